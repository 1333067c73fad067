import type { NodeId } from '@socketcloud/core'
import { FailureDetectorNode } from '@socketcloud/failure-detector'
import type { FailureDetectorInit } from '@socketcloud/failure-detector'
import { SimNetwork, Simulation, simNodeId } from '@socketcloud/sim'
import type { NetworkFaults } from '@socketcloud/sim'
import { defineBenchmark, round } from '../src/harness'
import type { BenchCase } from '../src/harness'
import { LatencyRecorder } from '../src/stats'

/**
 * Detection time and false alarms of the failure detector, on virtual time: five FailureDetectorNodes
 * (the real driver, codec and membership core) on `@socketcloud/sim`'s network. For each setting:
 * - detection: one node crashes after a warm-up; the time until each of the four others reports it
 *   `failed` is recorded (p50/p99/max over seeds × observers);
 * - false alarms: the cluster runs for hours of virtual time with nobody crashing; every `failed` level
 *   is a false positive of the detector, reported per monitored peer-hour; `refutations` counts how
 *   many of them the protocol acted on (a live member was suspected and had to refute it) after
 *   indirect probes had their say.
 * Our defaults, an aggressive setting and Akka's published defaults run on the same networks, so the
 * trade-off between detection time and false alarms is visible side by side. Figures are virtual
 * time, so they do not depend on the machine; only the run time does.
 */
interface Setting {
  readonly name: string
  readonly init: FailureDetectorInit
}

const SETTINGS: readonly Setting[] = [
  { name: 'ours (default)', init: {} },
  {
    name: 'aggressive',
    init: { detector: { acceptableHeartbeatPauseMs: 100, minStdDeviationMs: 20 } },
  },
  {
    name: 'akka defaults',
    init: {
      heartbeatIntervalMs: 1_000,
      // Akka: threshold 8, acceptable-heartbeat-pause 3 s, min-std-deviation 100 ms, first estimate 1 s.
      detector: {
        threshold: 8,
        acceptableHeartbeatPauseMs: 3_000,
        minStdDeviationMs: 100,
        firstHeartbeatEstimateMs: 1_000,
        sampleSizeMax: 1_000,
      },
      expectedResponseAfterMs: 1_000,
    },
  },
]

const NETWORKS: ReadonlyArray<{ readonly name: string; readonly faults: NetworkFaults }> = [
  { name: 'noisy (5–25 ms, 1% loss)', faults: { latencyMs: 5, jitterMs: 20, dropRate: 0.01 } },
  { name: 'harsh (5–105 ms, 5% loss)', faults: { latencyMs: 5, jitterMs: 100, dropRate: 0.05 } },
]

const CLUSTER_SIZE = 5

async function startCluster(seed: number, faults: NetworkFaults, init: FailureDetectorInit) {
  const sim = new Simulation({ seed })
  const network = new SimNetwork(sim, {})
  const ids: NodeId[] = Array.from({ length: CLUSTER_SIZE }, (_, index) => simNodeId(`bench-fd-${index}`))
  const transports = ids.map((id) => network.endpoint(id))
  await Promise.all(transports.map((transport, index) => transport.listen(`mem://bench-fd-${index}`)))
  const dials = transports.flatMap((transport, i) =>
    transports.slice(i + 1).map((_, j) => transport.dial(`mem://bench-fd-${i + j + 1}`)),
  )
  await sim.runForAsync(100)
  await Promise.all(dials)
  network.setFaults(faults)
  const nodes = transports.map(
    (transport) =>
      new FailureDetectorNode({ transport, clock: sim.clock, random: sim.random.fork(), members: ids }, init),
  )
  let messages = 0
  for (const transport of transports) transport.events.on('message', () => messages++)
  for (const node of nodes) node.start()
  return { sim, network, ids, nodes, messages: () => messages }
}

async function measureDetection(
  setting: Setting,
  faults: NetworkFaults,
  seeds: number,
  warmupMs: number,
): Promise<{ recorder: LatencyRecorder; missed: number }> {
  const recorder = new LatencyRecorder()
  let missed = 0
  for (let seed = 1; seed <= seeds; seed++) {
    const { sim, network, ids, nodes } = await startCluster(seed, faults, setting.init)
    await sim.runForAsync(warmupMs)
    const victim = ids[seed % CLUSTER_SIZE]!
    const crashedAt = sim.now
    const failedAt = new Map<string, number>()
    nodes.forEach((node, index) =>
      node.events.on('level', (event) => {
        if (event.to === 'failed' && event.peer.equals(victim) && !failedAt.has(ids[index]!.hex)) {
          failedAt.set(ids[index]!.hex, sim.now)
        }
      }),
    )
    network.crash(victim)
    nodes[ids.indexOf(victim)]!.stop()
    await sim.runUntilAsync(() => failedAt.size === CLUSTER_SIZE - 1, { timeMsMax: 60_000 })
    missed += CLUSTER_SIZE - 1 - failedAt.size
    for (const at of failedAt.values()) recorder.recordMicroseconds((at - crashedAt) * 1000)
    for (const node of nodes) node.stop()
  }
  return { recorder, missed }
}

async function measureFalseAlarms(
  setting: Setting,
  faults: NetworkFaults,
  hours: number,
): Promise<{
  falsePositives: number
  suspects: number
  refutations: number
  peerHours: number
  messagesPerNodeSecond: number
}> {
  const { sim, nodes, messages } = await startCluster(1_000, faults, setting.init)
  let falsePositives = 0
  let suspects = 0
  for (const node of nodes) {
    node.events.on('level', (event) => {
      if (event.to === 'failed') falsePositives++
      if (event.to === 'suspect') suspects++
    })
  }
  const durationMs = hours * 3_600_000
  await sim.runForAsync(durationMs)
  for (const node of nodes) node.stop()
  // Each refutation is a live member that learnt it was suspected and had to deny it.
  const refutations = nodes.reduce((sum, node) => sum + node.membership.stats.refutations, 0)
  return {
    falsePositives,
    suspects,
    refutations,
    peerHours: CLUSTER_SIZE * (CLUSTER_SIZE - 1) * hours,
    messagesPerNodeSecond: messages() / CLUSTER_SIZE / (durationMs / 1000),
  }
}

export default defineBenchmark({
  name: 'failure-detector',
  description:
    'failure detector on @socketcloud/sim: crash detection time and false alarms, our defaults vs Akka defaults',
  async run(ctx) {
    const seeds = ctx.quick ? 5 : 25
    const hours = ctx.quick ? 0.25 : 1
    const cases: BenchCase[] = []
    const baseline: BenchCase[] = []
    for (const network of NETWORKS) {
      for (const setting of SETTINGS) {
        const warmupMs = setting.init.heartbeatIntervalMs === 1_000 ? 60_000 : 10_000
        ctx.log(`${setting.name} on ${network.name}: detection over ${seeds} seeds`)
        const { recorder, missed } = await measureDetection(setting, network.faults, seeds, warmupMs)
        ctx.log(`${setting.name} on ${network.name}: ${hours} h of virtual time for false alarms`)
        const alarms = await measureFalseAlarms(setting, network.faults, hours)
        const row: BenchCase = {
          case: `${setting.name} · ${network.name}`,
          // Cost side of the trade-off: membership messages each node receives per (virtual) second.
          ops_per_sec: round(alarms.messagesPerNodeSecond),
          detect_p50_ms: round(recorder.percentileMicroseconds(50) / 1000),
          detect_p99_ms: round(recorder.percentileMicroseconds(99) / 1000),
          detect_max_ms: round(recorder.percentileMicroseconds(100) / 1000),
          missed,
          false_positives: alarms.falsePositives,
          fp_per_peer_hour: round(alarms.falsePositives / alarms.peerHours),
          suspect_levels: alarms.suspects,
          refutations: alarms.refutations,
          virtual_hours: hours,
        }
        if (setting.name === 'akka defaults') baseline.push(row)
        else cases.push(row)
      }
    }
    return {
      name: 'failure-detector',
      cases,
      baseline: { 'Akka defaults (threshold 8, interval 1 s, pause 3 s, min σ 100 ms)': baseline },
      notes: [
        `${CLUSTER_SIZE} nodes, all monitoring each other; detection = crash to phi ≥ threshold at each observer (${seeds} seeds × ${CLUSTER_SIZE - 1} observers); false alarms over ${hours} virtual hour(s) of ${CLUSTER_SIZE}×${CLUSTER_SIZE - 1} monitored pairs`,
        'ops_per_sec here is membership messages received per node per virtual second (the cost of faster detection)',
        'false_positives: detector-level (phi ≥ threshold for a live peer); refutations: live members that were suspected anyway (after indirect probes) and had to refute',
        'times are virtual (simulated network), so they do not depend on the machine; run time does',
      ],
    }
  },
})
