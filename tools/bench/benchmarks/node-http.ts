import { Agent } from 'node:http'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { PassThrough } from 'node:stream'
import { prepareLocalNodes, spawnLocalNode, stopLocalNodes, waitForLeader } from '@socketcloud/node'
import { closedLoop } from '../src/closed-loop'
import { defineBenchmark, type BenchCase, type BenchContext } from '../src/harness'
import {
  ensureEtcd,
  freePorts,
  httpCall,
  startEtcdMember,
  stopAll,
  temporaryDirectory,
  waitFor,
} from '../cluster/processes'

const VALUE_BYTES = 100
const CONCURRENCY = [1, 64]
const KEYS_PER_WORKER = 1000
/** GETs read these keys, written before the GET runs, so that every GET finds a value. */
const READ_KEYS = 64

/** The reference node's CLI from source (tsx), sibling packages from source: no build needed. */
function nodeCommand(): string[] {
  const require = createRequire(import.meta.url)
  const cli = join(dirname(require.resolve('@socketcloud/node/package.json')), 'src', 'cli.ts')
  return [process.execPath, '--conditions=@socketcloud/source', '--import', 'tsx', cli]
}

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
  const directory = temporaryDirectory('socketcloud-bench-node-')
  const ports = await freePorts(6)
  const specs = await prepareLocalNodes({
    nodes: 3,
    dataDir: directory.path,
    ports: (index) => ({ http: ports[index * 2]!, peer: ports[index * 2 + 1]! }),
  })
  const out = new PassThrough()
  out.on('data', (chunk: Buffer) => ctx.log(chunk.toString().trimEnd()))
  const nodes = specs.map((spec) =>
    spawnLocalNode(spec, { nodeCommand: nodeCommand(), logLevel: 'warn', out }),
  )
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
    await stopLocalNodes(nodes, 10_000)
    directory.remove()
  }
}

async function runEtcd(ctx: BenchContext, durationMs: number): Promise<BenchCase[]> {
  const binary = ensureEtcd(ctx.log)
  const directory = temporaryDirectory('socketcloud-bench-etcd-')
  const clientPorts = await freePorts(3)
  const peerPorts = await freePorts(3)
  const members = clientPorts.map((_, i) =>
    startEtcdMember(binary, i, `${directory.path}/m${i}`, clientPorts, peerPorts),
  )
  try {
    const probe = new Agent({ keepAlive: false })
    const leaderPort = await waitFor('an etcd leader', 30_000, async () => {
      for (const port of clientPorts) {
        const reply = await httpCall(probe, 'POST', `http://127.0.0.1:${port}/v3/maintenance/status`, '{}')
        const status = JSON.parse(reply.body) as { leader?: string; header?: { member_id?: string } }
        if (status.leader && status.leader === status.header?.member_id) return port
      }
      return undefined
    })
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
    await stopAll(members)
    directory.remove()
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
