/**
 * @packageDocumentation
 * Deterministic simulator for SocketCloud: one seed drives a discrete-event scheduler on virtual
 * time, a simulated network (latency, jitter, drop, duplicate, reorder, partitions, crashes) and a
 * simulated disk (a crash loses what was not fsynced). It records client histories and checks them
 * for linearizability, and it exports the compliance suites every implementation of a core
 * interface runs. A failing run prints `reproduce: SIM_SEED=<n>`; that variable replays it exactly.
 *
 * @example
 * ```ts
 * import { Simulation, SimNetwork, simNodeId } from '@socketcloud/sim'
 * const sim = new Simulation({ seed: 42 })
 * const network = new SimNetwork(sim, { latencyMs: 5, jitterMs: 2, dropRate: 0.01 })
 * const a = network.endpoint(simNodeId(1))
 * const b = network.endpoint(simNodeId(2))
 * await b.listen('mem://b')
 * const dialled = a.dial('mem://b')
 * await sim.runForAsync(20)
 * a.send(await dialled, new Uint8Array([1, 2, 3]))
 * ```
 */
export { Simulation } from './simulation'
export type { SimulationOptions, RunLimits, Invariant } from './simulation'
export { VirtualClock } from './clock'
export type { VirtualClockOptions } from './clock'
export { ScheduledEvent } from './event-queue'
export { SimulationError, reproduceLine } from './errors'
export type { SimulationErrorCode } from './errors'
export { SimRandom, SeededRandom } from './random'
export { TraceHasher, fnv1a32 } from './hash'
export { simNodeId } from './node-id'
export { runSeeds, seedsToRun } from './compliance/run-seeds'
export type { RunSeedsOptions } from './compliance/run-seeds'
export { SimNetwork } from './network/sim-network'
export { SimTransport } from './network/sim-transport'
export type { NetworkFaults, NetworkStats, SimNetworkOptions } from './network/options'
export { SimDisk, SimLogStore, SimSnapshotStore } from './disk/sim-disk'
export type { SimDiskOptions, SimDiskStats } from './disk/sim-disk'
export { MemoryLogStore, MemorySnapshotStore } from './disk/memory-stores'
export {
  runLogStoreTests,
  runSnapshotStoreTests,
  runStateMachineTests,
  runTransportTests,
} from './compliance/index'
export type {
  ComplianceSetup,
  Driver,
  LogStoreHarness,
  LogStoreSuiteOptions,
  SetupFunction,
  SnapshotStoreHarness,
  SnapshotStoreSuiteOptions,
  StateMachineHarness,
  TransportHarness,
  TransportUnderTest,
} from './compliance/index'
export { HistoryRecorder } from './history/history'
export type { HistoryEntry, KvOperation, KvOutput, KvValue } from './history/history'
export { checkLinearizable, formatHistory } from './history/linearizability'
export type {
  CheckOptions,
  KeyVerdict,
  LinearizabilityOutcome,
  LinearizabilityResult,
} from './history/linearizability'
