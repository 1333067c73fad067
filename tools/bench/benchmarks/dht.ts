import { DhtNode } from '@socketcloud/dht'
import { fillSteadyStateTables } from '@socketcloud/dht/testing'
import type { NodeId, Verifier } from '@socketcloud/core'
import { SimNetwork, Simulation, simNodeId } from '@socketcloud/sim'
import { defineBenchmark, round } from '../src/harness'
import { percentile } from '../src/stats'
import type { BenchCase } from '../src/harness'

/**
 * Kademlia lookups on `@socketcloud/sim` (10 ms one-way links): the real DhtNode driver, codec and
 * protocol core on every node. For each network size: hops (sequential round trips to learn of the
 * target), requests sent per lookup and lookup latency in virtual milliseconds, each as p50/p99 over
 * sampled lookups of present nodes (random source and target), next to ⌈log₂ n⌉; and lookups per
 * second of CPU (process CPU time spent on those lookups, whole simulator included).
 *
 * Routing tables: `steady-state` fills each bucket with up to k nodes drawn at random from its id
 * range (what joins plus periodic refreshes converge to), through the public `addContacts`;
 * `joins` builds the network by real bootstrap joins in batches of 50 (each node joins from a random
 * earlier node and looks up its own id; no bucket refresh yet), which takes minutes at 10,000 nodes.
 */

/** Lookups need no signatures; records are not benchmarked here. */
const acceptNothing: Verifier = { verify: () => false }

interface Network {
  readonly sim: Simulation
  readonly nodes: DhtNode[]
  readonly ids: NodeId[]
  settle<T>(promise: Promise<T>): Promise<T>
}

async function buildNetwork(size: number, build: 'steady-state' | 'joins', seed: number): Promise<Network> {
  const sim = new Simulation({ seed, microtaskTurns: 8, eventsMax: 1_000_000_000 })
  const network = new SimNetwork(sim, { latencyMs: 10, connectionsMax: 1_000_000, dialTimeoutMs: 500 })
  const random = sim.random.fork()
  const nodes: DhtNode[] = []
  const ids: NodeId[] = []
  const addresses: string[] = []
  const settle = async <T>(promise: Promise<T>): Promise<T> => {
    const state: { done: boolean } = { done: false }
    const tracked = promise.finally(() => (state.done = true))
    tracked.catch(() => undefined)
    while (!state.done) {
      await sim.runUntilAsync(() => state.done, { timeMsMax: 250 })
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    return tracked
  }
  for (let i = 0; i < size; i++) {
    const id = simNodeId(`bench-dht-${i}`)
    const transport = network.endpoint(id)
    addresses.push(await transport.listen(`mem://bench-dht-${i}`))
    const node = new DhtNode(
      { transport, clock: sim.clock, random: sim.random.fork(), verifier: acceptNothing },
      // Background refresh off (10 days), so the CPU figure counts lookups, not the refresh traffic of
      // 10,000 idle nodes (about 14 lookups per node per hour with the 1 h default).
      { maintenanceIntervalMs: 60_000, refreshIntervalMs: 864_000_000 },
    )
    node.start()
    nodes.push(node)
    ids.push(id)
  }
  if (build === 'steady-state') {
    fillSteadyStateTables(nodes, addresses, 20, random)
  } else {
    for (let joined = 1; joined < size; joined += 50) {
      const batch = nodes.slice(joined, joined + 50)
      await settle(
        Promise.all(
          batch.map((node) =>
            node.bootstrap([addresses[random.nextInt(joined)]!], { refreshBuckets: false }),
          ),
        ),
      )
    }
  }
  return { sim, nodes, ids, settle }
}

async function measure(
  size: number,
  build: 'steady-state' | 'joins',
  lookups: number,
  log: (m: string) => void,
) {
  const started = performance.now()
  const net = await buildNetwork(size, build, 7)
  log(`${size} nodes (${build}) ready in ${Math.round(performance.now() - started)} ms`)
  const random = net.sim.random.fork()
  const hops: number[] = []
  const messages: number[] = []
  const latencies: number[] = []
  let missed = 0
  const cpuBefore = process.cpuUsage()
  for (let i = 0; i < lookups; i++) {
    const from = net.nodes[random.nextInt(size)]!
    let target = net.ids[random.nextInt(size)]!
    while (target.equals(from.localId)) target = net.ids[random.nextInt(size)]!
    const startedAt = net.sim.now
    const result = await net.settle(from.findNode(target))
    latencies.push(net.sim.now - startedAt)
    hops.push(result.hops)
    messages.push(result.messages)
    if (!result.found?.id.equals(target)) missed++
  }
  const cpu = process.cpuUsage(cpuBefore)
  const cpuSeconds = (cpu.user + cpu.system) / 1e6
  for (const node of net.nodes) node.stop()
  const row: BenchCase = {
    case: `lookup · ${size.toLocaleString('en-US')} nodes · ${build}`,
    ops_per_sec: round(lookups / cpuSeconds),
    log2_n: Math.ceil(Math.log2(size)),
    hops_p50: percentile(hops, 50),
    hops_p99: percentile(hops, 99),
    messages_p50: percentile(messages, 50),
    messages_p99: percentile(messages, 99),
    latency_p50_ms: round(percentile(latencies, 50)),
    latency_p99_ms: round(percentile(latencies, 99)),
    lookups,
    missed,
  }
  return row
}

export default defineBenchmark({
  name: 'dht',
  description:
    'Kademlia lookups on @socketcloud/sim (10 ms links): hops, messages, latency vs ⌈log₂ n⌉; lookups per CPU second',
  async run(ctx) {
    const lookups = ctx.quick ? 100 : 400
    const cases: BenchCase[] = []
    for (const size of [1_000, 10_000]) {
      ctx.log(`measuring ${lookups} lookups on ${size} nodes`)
      cases.push(await measure(size, 'steady-state', lookups, ctx.log))
    }
    if (!ctx.quick) {
      for (const size of [1_000, 10_000]) {
        ctx.log(`measuring ${lookups} lookups on ${size} nodes built by joins (10,000 joins take minutes)`)
        cases.push(await measure(size, 'joins', lookups, ctx.log))
      }
    }
    return {
      name: 'dht',
      cases,
      notes: [
        'k = 20, α = 3, 10 ms one-way simulated latency; lookups run one at a time, sources and targets drawn from seed 7',
        'latency ≈ rounds × (dial + request round trip): α = 3 requests at a time until the k = 20 closest answered takes ~7 rounds',
        'background bucket refresh disabled in this benchmark (refreshIntervalMs = 10 days) so CPU time is the lookups’ own; the process CPU includes the simulator and GC of a 10,000-node heap',
        'hops: sequential round trips until the target was learned (0 = already in the table); messages: requests the lookup sent',
        'latency is virtual time (machine-independent); ops_per_sec is lookups per second of process CPU time (machine-dependent)',
        'log2_n is the theoretical ⌈log₂ n⌉ bound on hops; with k = 20 buckets a lookup usually needs fewer',
      ],
    }
  },
})
