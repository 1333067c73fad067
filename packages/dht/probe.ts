import { buildSimCluster } from './src/testing/sim-cluster'

const size = Number(process.env.PROBE_SIZE ?? 200)
const refresh = process.env.PROBE_REFRESH !== '0'
const start = performance.now()
const cpu0 = process.cpuUsage()
let lastEvents = 0
const cluster = await buildSimCluster({
  seed: 1,
  size,
  refreshBuckets: refresh,
  joinBatch: Number(process.env.PROBE_BATCH ?? 50),
  onProgress: (n) => {
    if (n % 100 === 0) console.log(n, Math.round(performance.now() - start), 'ms')
  },
})
const built = performance.now() - start
let found = 0
const hops: number[] = []
const msgs: number[] = []
for (let i = 0; i < 200; i++) {
  const a = cluster.nodes[(i * 7919) % size]!
  const b = cluster.ids[(i * 104729 + 13) % size]!
  const r = await cluster.settle(a.findNode(b))
  if (r.found) found++
  hops.push(r.hops)
  msgs.push(r.messages)
}
hops.sort((x, y) => x - y)
msgs.sort((x, y) => x - y)
const sizes = cluster.nodes.map((n) => n.routingTableSize).sort((x, y) => x - y)
const st = cluster.nodes.reduce(
  (acc, n) => {
    acc.sent += n.stats.requestsSent
    acc.failed += n.stats.requestsFailed
    acc.unsol += n.stats.refused.UNSOLICITED
    return acc
  },
  { sent: 0, failed: 0, unsol: 0 },
)
console.log({
  size,
  refresh,
  builtMs: Math.round(built),
  cpuS: Math.round((process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1e6),
  events: cluster.sim.eventsExecuted,
  found,
  hopsMed: hops[100],
  hopsMax: hops.at(-1),
  msgsMed: msgs[100],
  msgsP99: msgs[198],
  tableMed: sizes[size >> 1],
  tableMin: sizes[0],
  virt: cluster.sim.now,
  net: cluster.network.stats,
  st,
  mem: Math.round(process.memoryUsage().heapUsed / 1e6),
})
