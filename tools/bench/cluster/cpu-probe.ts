/**
 * Diagnostic: starts the three benchmark nodes, drives closed-loop 100-byte puts to the leader at
 * concurrency PROBE_C (default 1) for PROBE_SECONDS (default 5) and prints, per node and per thread
 * (main loop, libuv pool, V8 workers), user and system CPU microseconds per put, from /proc, and the
 * latency distribution with the slowest puts' send times (SOCKETCLOUD_GC_LOG=1 adds the nodes' GC pauses).
 * Run: npx tsx --conditions=@socketcloud/source tools/bench/cluster/cpu-probe.ts
 */
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { Agent } from 'node:http'
import { randomBytes } from 'node:crypto'
import { freePorts, httpCall, startOurNode, stopAll, temporaryDirectory, waitFor } from './processes'

const CLOCK_TICKS_PER_SECOND = 100
const concurrency = Number(process.env.PROBE_C ?? 1)
const seconds = Number(process.env.PROBE_SECONDS ?? 5)

interface ThreadTimes {
  name: string
  user: number
  system: number
}

/** CPU microseconds of every thread of `pid`, keyed by thread id. */
function threadTimes(pid: number): Map<string, ThreadTimes> {
  const times = new Map<string, ThreadTimes>()
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8')
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    times.set(task, {
      name: task === String(pid) ? 'main' : name,
      user: (Number(fields[11]) * 1e6) / CLOCK_TICKS_PER_SECOND,
      system: (Number(fields[12]) * 1e6) / CLOCK_TICKS_PER_SECOND,
    })
  }
  return times
}

const directory = temporaryDirectory('socketcloud-probe-')
const raftPorts = await freePorts(3)
const httpPorts = await freePorts(3)
const nodes = raftPorts.map((_, i) => startOurNode(i, `${directory.path}/n${i}`, httpPorts[i]!, raftPorts))
try {
  await Promise.all(nodes.map((node) => once(node.stdout!, 'data')))
  // Whatever the nodes print later (e.g. --trace-gc via SOCKETCLOUD_NODE_FLAGS) goes to stderr.
  for (const node of nodes) node.stdout!.pipe(process.stderr)
  const probe = new Agent({ keepAlive: false })
  const leader = await waitFor('a leader', 20_000, async () => {
    for (const [i, port] of httpPorts.entries()) {
      const status = JSON.parse((await httpCall(probe, 'GET', `http://127.0.0.1:${port}/status`)).body) as {
        role: string
      }
      if (status.role === 'leader') return i
    }
    return undefined
  })
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const value = randomBytes(100)
  for (let i = 0; i < 300; i++)
    await httpCall(agent, 'PUT', `http://127.0.0.1:${httpPorts[leader]}/kv/warm${i}`, value)
  const before = nodes.map((node) => threadTimes(node.pid!))
  const clientBefore = process.cpuUsage()
  const start = performance.now()
  let puts = 0
  const slowest: Array<[number, number]> = []
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() - start < seconds * 1000) {
        const sent = performance.now()
        const path = `/kv/k${worker}-${puts % 1000}`
        await httpCall(agent, 'PUT', `http://127.0.0.1:${httpPorts[leader]}${path}`, value)
        const done = performance.now()
        slowest.push([Math.round(performance.timeOrigin + sent), done - sent])
        puts++
      }
    }),
  )
  const elapsed = (performance.now() - start) / 1000
  const client = process.cpuUsage(clientBefore)
  console.log(
    `c=${concurrency}: ${puts} puts in ${elapsed.toFixed(1)} s (${Math.round(puts / elapsed)}/s); leader is node ${leader}`,
  )
  console.log(`client: user ${Math.round(client.user / puts)} sys ${Math.round(client.system / puts)} µs/put`)
  const latencies = slowest.map(([, ms]) => ms).sort((a, b) => a - b)
  const at = (q: number): string => latencies[Math.floor(latencies.length * q)]!.toFixed(1)
  console.log(`latency ms: p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)} max ${at(0.99999)}`)
  // The slowest puts with their send time (epoch ms), to line up with the nodes' GC log.
  for (const [sentAt, ms] of slowest.sort((a, b) => b[1] - a[1]).slice(0, 8))
    console.log(`  slow put sent at ${sentAt}: ${ms.toFixed(1)} ms`)
  for (const [i, node] of nodes.entries()) {
    const after = threadTimes(node.pid!)
    const rows: string[] = []
    let user = 0
    let system = 0
    for (const [task, end] of after) {
      const begin = before[i]!.get(task) ?? { user: 0, system: 0 }
      const u = (end.user - begin.user) / puts
      const s = (end.system - begin.system) / puts
      user += u
      system += s
      if (u + s >= 5) rows.push(`${end.name}: ${Math.round(u)}+${Math.round(s)}`)
    }
    console.log(
      `node ${i}${i === leader ? ' (leader)' : ''}: user ${Math.round(user)} sys ${Math.round(system)} µs/put  [${rows.join(', ')}]`,
    )
  }
} finally {
  await stopAll(nodes)
  directory.remove()
}
