import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { Agent } from 'node:http'
import { randomBytes } from 'node:crypto'
import { defineBenchmark, round, type BenchCase, type BenchContext } from '../src/harness'
import {
  freePorts,
  httpCall,
  processUsage,
  startEtcdCluster,
  startOurNode,
  stopAll,
  temporaryDirectory,
  waitFor,
} from '../cluster/processes'

const VALUE_BYTES = 100
// RAFT_CLUSTER_CONCURRENCY=1 (or 100, or "1,100") narrows a diagnostic run to some of the cases.
const CONCURRENCY = (process.env.RAFT_CLUSTER_CONCURRENCY ?? '1,100').split(',').map(Number)

type Put = (agent: Agent, key: string, value: Buffer) => Promise<void>

/** Closed-loop load: `concurrency` workers, each with one request outstanding, for `durationMs`. */
async function load(
  ctx: BenchContext,
  label: string,
  put: Put,
  concurrency: number,
  durationMs: number,
  servers: readonly ChildProcess[],
): Promise<BenchCase> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const value = randomBytes(VALUE_BYTES)
  const warmupEnd = Date.now() + Math.min(1000, durationMs / 3)
  let failures = 0
  const worker = async (
    id: number,
    until: number,
    recorder?: ReturnType<BenchContext['latencyRecorder']>,
  ) => {
    let done = 0
    for (let i = 0; Date.now() < until; i++) {
      const start = process.hrtime.bigint()
      try {
        await put(agent, `bench-${id}-${i % 1000}`, value)
        recorder?.recordNanoseconds(Number(process.hrtime.bigint() - start))
        done++
      } catch {
        failures++
      }
    }
    return done
  }
  await Promise.all(Array.from({ length: concurrency }, (_, id) => worker(id, warmupEnd)))
  const recorder = ctx.latencyRecorder()
  const usageBefore = processUsage(servers)
  const start = process.hrtime.bigint()
  const until = Date.now() + durationMs
  const counts = await Promise.all(
    Array.from({ length: concurrency }, (_, id) => worker(id, until, recorder)),
  )
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const usageAfter = processUsage(servers)
  agent.destroy()
  const total = counts.reduce((sum, count) => sum + count, 0)
  // CPU and context switches per put across the three servers: unlike latency, barely moved by
  // other load on the machine, so they compare the two implementations' cost per operation.
  const perPut = (value: number): number => Math.round(value / Math.max(1, total))
  const usage =
    usageBefore && usageAfter
      ? {
          server_cpu_us_per_put: perPut(usageAfter.cpuMicroseconds - usageBefore.cpuMicroseconds),
          server_switches_per_put: round(
            (usageAfter.contextSwitches - usageBefore.contextSwitches) / Math.max(1, total),
          ),
        }
      : {}
  ctx.log(
    `${label} c=${concurrency}: ${total} puts in ${seconds.toFixed(1)} s, ${failures} failed; µs p50 ${round(recorder.percentileMicroseconds(50))} p90 ${round(recorder.percentileMicroseconds(90))} p99 ${round(recorder.percentileMicroseconds(99))} p99.9 ${round(recorder.percentileMicroseconds(99.9))}`,
  )
  return {
    case: `${label} c=${concurrency}`,
    ops_per_sec: Math.round(total / seconds),
    p50_us: round(recorder.percentileMicroseconds(50)),
    p90_us: round(recorder.percentileMicroseconds(90)),
    p99_us: round(recorder.percentileMicroseconds(99)),
    failed: failures,
    ...usage,
  }
}

async function runOurs(ctx: BenchContext, durationMs: number, tree?: string): Promise<BenchCase[]> {
  const directory = temporaryDirectory('socketcloud-bench-')
  const raftPorts = await freePorts(3)
  const httpPorts = await freePorts(3)
  const nodes = raftPorts.map((_, i) =>
    startOurNode(i, `${directory.path}/n${i}`, httpPorts[i]!, raftPorts, tree),
  )
  try {
    await Promise.all(nodes.map((node) => once(node.stdout!, 'data')))
    const probe = new Agent({ keepAlive: false })
    const leaderPort = await waitFor('a SocketCloud leader', 20_000, async () => {
      for (const port of httpPorts) {
        const status = JSON.parse((await httpCall(probe, 'GET', `http://127.0.0.1:${port}/status`)).body) as {
          role: string
        }
        if (status.role === 'leader') return port
      }
      return undefined
    })
    const put: Put = async (agent, key, value) => {
      const result = await httpCall(agent, 'PUT', `http://127.0.0.1:${leaderPort}/kv/${key}`, value)
      if (result.status !== 200) throw new Error(`put failed: ${result.status} ${result.body}`)
    }
    const cases: BenchCase[] = []
    for (const concurrency of CONCURRENCY)
      cases.push(
        await load(
          ctx,
          tree ? 'socketcloud raft (other tree)' : 'socketcloud raft',
          put,
          concurrency,
          durationMs,
          nodes,
        ),
      )
    return cases
  } finally {
    await stopAll(nodes)
    directory.remove()
  }
}

async function runEtcd(ctx: BenchContext, durationMs: number): Promise<BenchCase[]> {
  const { members, leaderPort, stop } = await startEtcdCluster(ctx.log)
  try {
    const put: Put = async (agent, key, value) => {
      const body = JSON.stringify({
        key: Buffer.from(key).toString('base64'),
        value: value.toString('base64'),
      })
      const result = await httpCall(agent, 'POST', `http://127.0.0.1:${leaderPort}/v3/kv/put`, body)
      if (result.status !== 200) throw new Error(`etcd put failed: ${result.status} ${result.body}`)
    }
    const cases: BenchCase[] = []
    for (const concurrency of CONCURRENCY)
      cases.push(await load(ctx, 'etcd', put, concurrency, durationMs, members))
    return cases
  } finally {
    await stop()
  }
}

/** Per case, the median of every numeric field over the rounds. */
function medianCases(rounds: readonly BenchCase[][]): BenchCase[] {
  return rounds[0]!.map((first, position) => {
    const merged: BenchCase = { ...first }
    for (const [key, value] of Object.entries(first)) {
      if (typeof value !== 'number') continue
      const values = rounds.map((cases) => Number(cases[position]![key] ?? 0)).sort((a, b) => a - b)
      merged[key] = values[Math.floor(values.length / 2)]!
    }
    return merged
  })
}

/**
 * Three SocketCloud Raft nodes as separate processes on 127.0.0.1 (TCP between them, fsync on,
 * key-value machine) against a three-member etcd cluster on the same machine, driven by the same
 * closed-loop HTTP load generator (etcd through its v3 JSON gateway): 100-byte puts to the leader at
 * concurrency 1 and 100.
 */
export default defineBenchmark({
  name: 'raft-cluster',
  description: 'three Raft node processes over TCP with fsync vs a three-member etcd, 100-byte puts',
  async run(ctx) {
    const durationMs = ctx.quick ? 3000 : 10_000
    // On a shared machine one pair of runs says little: RAFT_CLUSTER_ROUNDS alternates the two
    // clusters that many times and reports each figure's median.
    const rounds = Math.max(1, Number(process.env.RAFT_CLUSTER_ROUNDS ?? 1) || 1)
    // RAFT_CLUSTER_OTHER_TREE=<checkout> adds that checkout's nodes (e.g. main) to every round: a
    // before/after comparison under the same machine load.
    const otherTree = process.env.RAFT_CLUSTER_OTHER_TREE
    // RAFT_CLUSTER_SKIP_ETCD=1 leaves etcd out: for a diagnostic run or a before/after comparison of
    // our own trees only.
    const skipEtcd = process.env.RAFT_CLUSTER_SKIP_ETCD === '1'
    const oursRounds: BenchCase[][] = []
    const etcdRounds: BenchCase[][] = []
    const otherRounds: BenchCase[][] = []
    for (let round = 0; round < rounds; round++) {
      const steps = [
        async () => oursRounds.push(await runOurs(ctx, durationMs)),
        ...(skipEtcd ? [] : [async () => etcdRounds.push(await runEtcd(ctx, durationMs))]),
        ...(otherTree ? [async () => otherRounds.push(await runOurs(ctx, durationMs, otherTree))] : []),
      ]
      if (round % 2 === 1) steps.reverse()
      for (const step of steps) await step()
    }
    const ours = medianCases(oursRounds)
    if (skipEtcd) {
      return {
        name: 'raft-cluster',
        cases: ours,
        baseline: otherTree ? { [`socketcloud from ${otherTree}`]: medianCases(otherRounds) } : {},
        notes: [`median of ${rounds} alternating rounds per figure; etcd left out (RAFT_CLUSTER_SKIP_ETCD)`],
      }
    }
    const etcd = medianCases(etcdRounds)
    const notes = CONCURRENCY.map((concurrency, i) => {
      const a = ours[i]!
      const b = etcd[i]!
      return `c=${concurrency}: throughput ${(a.ops_per_sec / b.ops_per_sec).toFixed(2)}x etcd, p50 ${((a.p50_us ?? 0) / (b.p50_us ?? 1)).toFixed(2)}x etcd's latency`
    })
    if (rounds > 1) notes.push(`median of ${rounds} alternating rounds per figure`)
    notes.push(
      'same load generator for both (HTTP/1.1 keep-alive; etcd via its grpc-gateway JSON API, which adds its own overhead)',
    )
    const baseline: Record<string, BenchCase[]> = { 'etcd 3-member': etcd }
    if (otherTree) baseline[`socketcloud from ${otherTree}`] = medianCases(otherRounds)
    return { name: 'raft-cluster', cases: ours, baseline, notes }
  },
})
