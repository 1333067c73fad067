import { Agent } from 'node:http'
import { randomBytes } from 'node:crypto'
import { waitForLeader } from '@socketcloud/node'
import { startNodeCluster } from '../cluster/node-cluster'
import { closedLoop } from '../src/closed-loop'
import { defineBenchmark, type BenchCase, type BenchContext } from '../src/harness'
import { httpCall, startEtcdCluster } from '../cluster/processes'

const VALUE_BYTES = 100
const CONCURRENCY = [1, 64]
const KEYS_PER_WORKER = 1000
/** GETs read these keys, written before the GET runs, so that every GET finds a value. */
const READ_KEYS = 64

interface Target {
  put(agent: Agent, key: string, value: Buffer): Promise<void>
  get(agent: Agent, key: string): Promise<void>
}

async function measure(
  ctx: BenchContext,
  label: string,
  target: Target,
  durationMs: number,
): Promise<BenchCase[]> {
  const value = randomBytes(VALUE_BYTES)
  const cases: BenchCase[] = []
  for (const concurrency of CONCURRENCY) {
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
    const key = (worker: number, iteration: number) => `bench-${worker}-${iteration % KEYS_PER_WORKER}`
    cases.push(
      await closedLoop(ctx, (worker, iteration) => target.put(agent, key(worker, iteration), value), {
        label: `${label} PUT c=${concurrency}`,
        concurrency,
        durationMs,
      }),
    )
    await Promise.all(Array.from({ length: READ_KEYS }, (_, i) => target.put(agent, `read-${i}`, value)))
    cases.push(
      await closedLoop(
        ctx,
        (worker, iteration) => target.get(agent, `read-${(worker + iteration) % READ_KEYS}`),
        {
          label: `${label} GET c=${concurrency}`,
          concurrency,
          durationMs,
        },
      ),
    )
    agent.destroy()
  }
  return cases
}

async function runOurs(ctx: BenchContext, durationMs: number): Promise<BenchCase[]> {
  const cluster = await startNodeCluster(ctx)
  const nodes = cluster.nodes
  try {
    const leaderId = await waitForLeader(nodes, 60_000)
    const leader = nodes.find((node) => node.id === leaderId)!
    ctx.log(`socketcloud leader: node-${leader.index} at ${leader.apiUrl}`)
    return await measure(
      ctx,
      'socketcloud',
      {
        put: async (agent, key, value) => {
          const result = await httpCall(agent, 'PUT', `${leader.apiUrl}/v1/kv/${key}`, value)
          if (result.status !== 200) throw new Error(`PUT ${result.status} ${result.body}`)
        },
        get: async (agent, key) => {
          const result = await httpCall(agent, 'GET', `${leader.apiUrl}/v1/kv/${key}`)
          if (result.status !== 200) throw new Error(`GET ${result.status} ${result.body}`)
        },
      },
      durationMs,
    )
  } finally {
    await cluster.stop()
  }
}

async function runEtcd(ctx: BenchContext, durationMs: number): Promise<BenchCase[]> {
  const { leaderPort, stop } = await startEtcdCluster(ctx.log)
  try {
    const base = `http://127.0.0.1:${leaderPort}`
    return await measure(
      ctx,
      'etcd',
      {
        put: async (agent, key, value) => {
          const body = JSON.stringify({
            key: Buffer.from(key).toString('base64'),
            value: value.toString('base64'),
          })
          const result = await httpCall(agent, 'POST', `${base}/v3/kv/put`, body)
          if (result.status !== 200) throw new Error(`etcd put ${result.status} ${result.body}`)
        },
        get: async (agent, key) => {
          // Linearizable by default, as ours.
          const body = JSON.stringify({ key: Buffer.from(key).toString('base64') })
          const result = await httpCall(agent, 'POST', `${base}/v3/kv/range`, body)
          if (result.status !== 200) throw new Error(`etcd range ${result.status} ${result.body}`)
        },
      },
      durationMs,
    )
  } finally {
    await stop()
  }
}

/**
 * The reference node's HTTP API (three node processes: Noise over TCP between them, Raft with fsync,
 * the file WAL) against a three-member etcd's JSON gateway on the same machine, with the same
 * closed-loop HTTP/1.1 keep-alive load generator: 100-byte PUTs and linearizable GETs to the leader at
 * concurrency 1 and 64.
 */
export default defineBenchmark({
  name: 'node-http',
  description: 'reference node HTTP PUT/GET vs a three-member etcd JSON gateway, c=1 and c=64',
  async run(ctx) {
    const durationMs = ctx.quick ? 3000 : 10_000
    const ours = await runOurs(ctx, durationMs)
    const etcd = await runEtcd(ctx, durationMs)
    const notes = ours.map((a, i) => {
      const b = etcd[i]!
      return `${a.case.replace('socketcloud ', '')}: throughput ${(a.ops_per_sec / b.ops_per_sec).toFixed(2)}x etcd, p50 ${((a.p50_us ?? 0) / (b.p50_us ?? 1)).toFixed(2)}x etcd's latency`
    })
    notes.push(
      'same load generator for both (node:http keep-alive agent); etcd through its grpc-gateway JSON API',
    )
    return { name: 'node-http', cases: ours, baseline: { 'etcd 3-member': etcd }, notes }
  },
})
