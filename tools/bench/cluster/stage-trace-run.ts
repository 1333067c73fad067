/**
 * Diagnostic: starts the three benchmark nodes with stage tracing on, sends `count` sequential
 * 100-byte puts (concurrency 1) to the leader, stops the nodes and prints, per stage, the median
 * time since the client sent the request, the gaps between stages (all requests and the slowest
 * TRACE_TAIL_PERCENT, default 2), which stage was longest in each slow request, and how requests that
 * arrived while the leader's own fsync was running compare with the rest. Run: npx tsx
 * --conditions=@socketcloud/source tools/bench/cluster/stage-trace-run.ts [count]
 */
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { Agent } from 'node:http'
import { randomBytes } from 'node:crypto'
import { PerformanceObserver } from 'node:perf_hooks'
import { freePorts, httpCall, startOurNode, stopAll, temporaryDirectory, waitFor } from './processes'

const count = Number(process.argv[2] ?? 500)
const directory = temporaryDirectory('socketcloud-trace-')
process.env.SOCKETCLOUD_STAGE_TRACE = `${directory.path}/trace`
const raftPorts = await freePorts(3)
const httpPorts = await freePorts(3)
const nodes = raftPorts.map((_, i) => startOurNode(i, `${directory.path}/n${i}`, httpPorts[i]!, raftPorts))
const origin = performance.timeOrigin * 1000
const now = (): number => Math.round(origin + performance.now() * 1000)
const client: Array<[number, number]> = []
// The load generator's own collections, to tell its pauses from the servers'.
const clientGc: number[] = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) clientGc.push(origin + entry.startTime * 1000)
}).observe({ entryTypes: ['gc'] })
let leaderIndex = -1
try {
  await Promise.all(nodes.map((node) => once(node.stdout!, 'data')))
  const probe = new Agent({ keepAlive: false })
  leaderIndex = await waitFor('a leader', 20_000, async () => {
    for (const [i, port] of httpPorts.entries()) {
      const status = JSON.parse((await httpCall(probe, 'GET', `http://127.0.0.1:${port}/status`)).body) as {
        role: string
      }
      if (status.role === 'leader') return i
    }
    return undefined
  })
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const value = randomBytes(100)
  for (let i = 0; i < count + 200; i++) {
    const start = now()
    const result = await httpCall(
      agent,
      'PUT',
      `http://127.0.0.1:${httpPorts[leaderIndex]}/kv/k${i % 1000}`,
      value,
    )
    if (result.status !== 200) throw new Error(`put failed ${result.status}`)
    if (i >= 200) client.push([start, now()])
  }
  agent.destroy()
} finally {
  await stopAll(nodes)
}
type Event = { t: number; name: string; detail: string }
const traces = [0, 1, 2].map((i) =>
  readFileSync(`${directory.path}/trace.${i}`, 'utf8')
    .trim()
    .split('\n')
    .map((line): Event => {
      const [t, name, ...rest] = line.split(' ')
      return { t: Number(t), name: name!, detail: rest.join(' ') }
    }),
)
directory.remove()
const stages = new Map<string, number[]>()
const add = (name: string, value: number): void => {
  const list = stages.get(name) ?? []
  list.push(value)
  stages.set(name, list)
}
for (const [start, end] of client) {
  add('~ client round trip', end - start)
  for (const [i, events] of traces.entries()) {
    const role = i === leaderIndex ? 'L' : `F${i}`
    const seen = new Map<string, number>()
    for (const event of events) {
      if (event.t < start || event.t > end) continue
      const key = `${role} ${event.name}${event.name === 'ready' || event.name === 'ready-done' ? ` [${event.detail}]` : event.name === 'send' || event.name === 'store-write' ? ` ${event.detail}` : ''}`
      const n = (seen.get(key) ?? 0) + 1
      seen.set(key, n)
      add(`${key} #${n}`, event.t - start)
    }
  }
}
// Per-request gaps between named stages (first occurrence of each in the request's window), for
// every request and for the slowest 2 % (where the tail comes from).
const gaps = new Map<string, number[]>()
const dominant = new Map<string, number>()
const tailGaps = new Map<string, number[]>()
// TRACE_TAIL_PERCENT (default 2) sets how much of the slowest requests the tail columns describe.
const tailPercent = Number(process.env.TRACE_TAIL_PERCENT ?? 2)
const tailFrom = [...client].map(([start, end]) => end - start).sort((a, b) => a - b)[
  Math.floor(client.length * (1 - tailPercent / 100))
]!
for (const [start, end] of client) {
  const first = (role: 'L' | 'F', name: string, detail?: string): number | undefined => {
    let best: number | undefined
    for (const [i, events] of traces.entries()) {
      if ((role === 'L') !== (i === leaderIndex)) continue
      for (const event of events) {
        if (event.t < start || event.t > end || event.name !== name) continue
        if (detail !== undefined && !event.detail.startsWith(detail)) continue
        if (best === undefined || event.t < best) best = event.t
        break
      }
    }
    return best
  }
  const points: Array<[string, number | undefined]> = [
    ['client sends', start],
    ['leader parses the request', first('L', 'http-request')],
    ['leader hands appends to the transport', first('L', 'send', 'raft.append')],
    ['first follower receives the append', first('F', 'recv')],
    ['first follower starts its fsync', first('F', 'fdatasync')],
    ['first follower finished its fsync', first('F', 'fdatasync-done')],
    ['first follower sends its ack', first('F', 'send', 'raft.append-response')],
    ['leader finished its own fsync', first('L', 'fdatasync-done')],
    ['leader applies', first('L', 'apply')],
    ['leader answers', first('L', 'submit-done')],
    ['client has the answer', end],
  ]
  if (end - start >= tailFrom) {
    // Which stage took the slow request's extra time: the gap furthest above its usual length.
    let worst = ''
    let worstGap = -Infinity
    for (let i = 1; i < points.length; i++) {
      const t = points[i]![1]
      const before = points[i - 1]![1]
      if (t === undefined || before === undefined) continue
      if (t - before > worstGap) {
        worstGap = t - before
        worst = `${points[i - 1]![0]} -> ${points[i]![0]}`
      }
    }
    dominant.set(worst, (dominant.get(worst) ?? 0) + 1)
  }
  for (let i = 1; i < points.length; i++) {
    const [name, t] = points[i]!
    const [previous, before] = points[i - 1]!
    if (t === undefined || before === undefined) continue
    const key = `${previous} -> ${name}`
    for (const table of end - start >= tailFrom ? [gaps, tailGaps] : [gaps]) {
      const list = table.get(key) ?? []
      list.push(t - before)
      table.set(key, list)
    }
  }
}
const median = (list: number[]): number => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!
const rows = [...stages]
  .filter(([, list]) => list.length >= client.length * 0.3)
  .map(([name, list]) => ({ name, median: median(list), share: list.length / client.length }))
  .sort((a, b) => a.median - b.median)
console.log(
  `leader is node ${leaderIndex}; ${client.length} sequential puts; median µs since the client sent`,
)
for (const row of rows)
  console.log(
    `${String(row.median).padStart(7)}  ${row.name}${row.share < 0.95 ? ` (in ${Math.round(row.share * 100)}%)` : ''}`,
  )
console.log(
  `\nper-request gaps (median µs over all requests, and over the slowest ${tailPercent} %, ≥ ${tailFrom} µs; a negative gap means the stages overlap)`,
)
const p90 = (list: number[]): number => [...list].sort((a, b) => a - b)[Math.floor(list.length * 0.9)]!
console.log(`    p50     p90  p50 of slowest ${tailPercent} %`)
for (const [name, list] of gaps)
  console.log(
    `${String(median(list)).padStart(7)} ${String(p90(list)).padStart(7)} ${String(tailGaps.has(name) ? median(tailGaps.get(name)!) : '-').padStart(7)}  ${name}`,
  )
console.log(`\nlongest stage of each of the slowest ${tailPercent} %:`)
for (const [name, n] of [...dominant].sort((a, b) => b[1] - a[1]))
  console.log(`${String(n).padStart(7)}  ${name}`)
// TRACE_SHOW_SLOWEST=n prints the whole timeline of the n slowest requests.
const showSlowest = Number(process.env.TRACE_SHOW_SLOWEST ?? 0)
for (const [start, end] of [...client].sort((a, b) => b[1] - b[0] - (a[1] - a[0])).slice(0, showSlowest)) {
  console.log(`\nrequest of ${end - start} µs`)
  const lines: Array<[number, string]> = []
  for (const [i, events] of traces.entries()) {
    const role = i === leaderIndex ? 'L ' : `F${i}`
    for (const event of events)
      if (event.t >= start - 2000 && event.t <= end)
        lines.push([event.t - start, `${role} ${event.name} ${event.detail}`])
  }
  for (const [t, text] of lines.sort((a, b) => a[0] - b[0])) console.log(`${String(t).padStart(7)}  ${text}`)
}
// How many of the slowest requests overlap a collection on the leader, or on every follower at once.
{
  let leaderGc = 0
  let followerGc = 0
  let clientCollections = 0
  const slow = client.filter(([start, end]) => end - start >= tailFrom)
  for (const [start, end] of slow) {
    const collected = traces.map((events) =>
      events.some((event) => event.name === 'gc' && event.t >= start - 1000 && event.t <= end),
    )
    if (clientGc.some((t) => t >= start - 1000 && t <= end)) clientCollections++
    if (collected[leaderIndex]) leaderGc++
    else if (collected.every((seen, i) => seen || i === leaderIndex)) followerGc++
  }
  console.log(
    `\nslowest ${tailPercent} % (${slow.length} requests): ${leaderGc} overlap a leader collection, ${followerGc} more a collection on every follower; ${clientCollections} a collection in the load generator`,
  )
}
// Requests that arrive while the leader's fsync of an earlier entry is still running: its Ready then
// waits for that fsync (one background write at a time), so such a request needs the leader's own
// copy twice over. Compared with the others by latency and by share of the slowest 10 %.
{
  const leaderEvents = traces[leaderIndex]!
  const syncing: Array<[number, number]> = []
  let open: number | null = null
  for (const event of leaderEvents) {
    if (event.name === 'fdatasync') open = event.t
    else if (event.name === 'fdatasync-done' && open !== null) {
      syncing.push([open, event.t])
      open = null
    }
  }
  const arrivals = client.map(([start, end]) => {
    const parsed = leaderEvents.find(
      (event) => event.name === 'http-request' && event.t >= start && event.t <= end,
    )
    const at = parsed?.t ?? start
    return { latency: end - start, behindSync: syncing.some(([from, to]) => from <= at && to > at) }
  })
  const slowFrom = [...arrivals].map((a) => a.latency).sort((a, b) => a - b)[
    Math.floor(arrivals.length * 0.9)
  ]!
  for (const behind of [true, false]) {
    const group = arrivals.filter((a) => a.behindSync === behind).map((a) => a.latency)
    if (group.length === 0) continue
    const sorted = [...group].sort((a, b) => a - b)
    const at = (q: number): number => sorted[Math.floor((sorted.length - 1) * q)]!
    const slow = group.filter((latency) => latency >= slowFrom).length
    console.log(
      `${behind ? 'arrived while the leader fsynced an earlier entry' : 'arrived with no leader fsync running'}: ${group.length} requests, µs p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)}; ${slow} of the slowest 10 %`,
    )
  }
}
