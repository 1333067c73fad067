import { Agent } from 'node:http'
import { waitForLeader, type LocalNodeProcess } from '@socketcloud/node'
import { startNodeCluster } from '../cluster/node-cluster'
import { defineBenchmark, round, type BenchContext } from '../src/harness'
import { httpCall, waitFor } from '../cluster/processes'

const alive = (node: LocalNodeProcess) => node.child.exitCode === null && node.child.signalCode === null

/**
 * A steady writer (one PUT outstanding, to any live node; followers forward to the leader) records
 * when each write was sent and acknowledged.
 */
class SteadyWriter {
  private stopped = false
  /** [sent, acknowledged] of every acknowledged write. */
  private acks: [number, number][] = []
  private sequence = 0
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 })
  readonly done: Promise<void>

  constructor(private readonly nodes: () => LocalNodeProcess[]) {
    this.done = this.loop()
  }

  private async loop(): Promise<void> {
    let target = 0
    while (!this.stopped) {
      const candidates = this.nodes().filter(alive)
      const node = candidates[target % Math.max(candidates.length, 1)]
      if (!node) {
        await new Promise((resolve) => setTimeout(resolve, 5))
        continue
      }
      const sentAt = performance.now()
      try {
        const result = await httpCall(
          this.agent,
          'PUT',
          `${node.apiUrl}/v1/kv/failover-${this.sequence++ % 100}`,
          'x',
        )
        if (result.status === 200) this.acks.push([sentAt, performance.now()])
        else {
          target++
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
      } catch {
        // The node died under us, or refused the connection: try the next one.
        target++
      }
    }
  }

  /** When the first write sent after `since` was acknowledged (a write sent earlier proves nothing). */
  firstAckAfter(since: number): number | undefined {
    return this.acks.find(([sentAt]) => sentAt > since)?.[1]
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.done
    this.agent.destroy()
  }
}

async function appliedEverywhere(nodes: LocalNodeProcess[]): Promise<boolean> {
  const probe = new Agent({ keepAlive: false })
  const indexes = await Promise.all(
    nodes.map(async (node) => {
      const body = JSON.parse((await httpCall(probe, 'GET', `${node.apiUrl}/v1/cluster`)).body) as {
        applied_index?: number
        commit_index?: number
      }
      return body
    }),
  )
  const commit = Math.max(...indexes.map((status) => status.commit_index ?? 0))
  return indexes.every((status) => (status.applied_index ?? 0) >= commit - 50)
}

/**
 * Failover gap: under a steady write load, SIGKILL the leader and measure the time from the kill to
 * the first write acknowledged afterwards (detection by election timeout, PreVote + election, the new
 * leader's first commit, and the client finding a live node). The killed node is restarted and
 * caught up between trials.
 */
export default defineBenchmark({
  name: 'failover',
  description: 'gap between SIGKILL of the leader and the next acknowledged write, 3 node processes',
  async run(ctx: BenchContext) {
    const trials = ctx.quick ? 3 : 10
    const cluster = await startNodeCluster(ctx)
    const nodes = cluster.nodes
    const gaps: number[] = []
    const writer = new SteadyWriter(() => nodes)
    try {
      for (let trial = 0; trial < trials; trial++) {
        const leaderId = await waitForLeader(nodes.filter(alive), 60_000)
        await waitFor('every node caught up', 60_000, async () =>
          (await appliedEverywhere(nodes)) ? true : undefined,
        )
        await new Promise((resolve) => setTimeout(resolve, 500))
        const index = nodes.findIndex((node) => node.id === leaderId)
        const leader = nodes[index]!
        const killedAt = performance.now()
        leader.child.kill('SIGKILL')
        await leader.exited
        const ackAt = await waitFor('a write after the kill', 30_000, async () =>
          writer.firstAckAfter(killedAt),
        )
        const gap = ackAt - killedAt
        gaps.push(gap)
        ctx.log(
          `trial ${trial + 1}: killed node-${leader.index}, next write acknowledged after ${gap.toFixed(0)} ms`,
        )
        nodes[index] = cluster.restart(leader)
      }
    } finally {
      await writer.stop()
      await cluster.stop()
    }
    const sorted = [...gaps].sort((a, b) => a - b)
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
    return {
      name: 'failover',
      cases: [
        {
          case: `SIGKILL leader, ${trials} trials`,
          ops_per_sec: 0,
          gap_p50_ms: round(at(0.5)),
          gap_min_ms: round(sorted[0]!),
          gap_max_ms: round(sorted[sorted.length - 1]!),
        },
      ],
      notes: [
        'election timeout 300–600 ms (50 ms ticks × 6), PreVote and CheckQuorum on; the gap includes the client moving to a live node',
      ],
    }
  },
})
