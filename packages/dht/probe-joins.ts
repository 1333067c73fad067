import { buildSimCluster } from './src/test/sim-cluster'
import { percentile } from './src/test/stats'
const size = Number(process.env.PROBE_SIZE ?? 10000)
const t = performance.now()
const cpu0 = process.cpuUsage()
const cluster = await buildSimCluster({
  seed: 1,
  size,
  joinBatch: 200,
  refreshBuckets: false,
  signers: false,
  dht: { maintenanceIntervalMs: 60_000 },
  onProgress: (n) => {
    if (n % 1000 === 1) console.log(`joined ${n} after ${Math.round(performance.now() - t)} ms`)
  },
})
const cpu = process.cpuUsage(cpu0)
console.log(
  `built ${size} by joins in ${Math.round(performance.now() - t)} ms wall, ${Math.round((cpu.user + cpu.system) / 1e3)} ms cpu, virtual ${cluster.sim.now} ms`,
)
const random = cluster.sim.random.fork()
const hops: number[] = []
const messages: number[] = []
let found = 0
for (let i = 0; i < 400; i++) {
  const from = cluster.nodes[random.nextInt(size)]!
  let target = cluster.ids[random.nextInt(size)]!
  while (target.equals(from.localId)) target = cluster.ids[random.nextInt(size)]!
  const r = await cluster.settle(from.findNode(target))
  if (r.found?.id.equals(target)) found++
  hops.push(r.hops)
  messages.push(r.messages)
}
const tables = cluster.nodes.map((n) => n.routingTableSize)
console.log(
  `lookups found ${found}/400; hops p50 ${percentile(hops, 50)} p99 ${percentile(hops, 99)}; messages p50 ${percentile(messages, 50)} p99 ${percentile(messages, 99)}; table p50 ${percentile(tables, 50)} min ${percentile(tables, 0)}`,
)
