// Goal: the simulator's own implementations of core interfaces pass the compliance suites that every
// other implementation runs: the simulated network, the simulated disk (driven on virtual time) and
// the plain memory stores.
import { MemoryLogStore, MemorySnapshotStore, SimDisk, SimNetwork, Simulation, simNodeId } from '../index'
import { runLogStoreTests, runSnapshotStoreTests, runTransportTests } from '../index'

runTransportTests(() => {
  const sim = new Simulation({ seed: 11 })
  const network = new SimNetwork(sim, { latencyMs: 2, jitterMs: 3 })
  return {
    impl: {
      create: (index: number) => ({
        transport: network.endpoint(simNodeId(index)),
        listenAddress: `mem://node-${index}`,
      }),
      waitUntil: (condition: () => boolean, timeoutMs: number) =>
        sim.runUntilAsync(condition, { timeMsMax: timeoutMs }),
    },
    teardown: () => undefined,
  }
}, 'SimTransport')

runLogStoreTests(() => {
  const store = new MemoryLogStore()
  return { impl: { open: () => store.reopen() }, teardown: () => undefined }
}, 'MemoryLogStore')

runSnapshotStoreTests(() => {
  const store = new MemorySnapshotStore()
  return { impl: { open: () => store.reopen() }, teardown: () => undefined }
}, 'MemorySnapshotStore')

runLogStoreTests(
  () => {
    const sim = new Simulation({ seed: 21 })
    const disk = new SimDisk(sim)
    return {
      impl: {
        open: () => disk.logStore(),
        drive: (promise) => sim.await(promise),
        crash: () => disk.crash(),
      },
      teardown: () => undefined,
    }
  },
  'SimLogStore',
  { crash: true },
)

runLogStoreTests(
  () => {
    const sim = new Simulation({ seed: 23 })
    const disk = new SimDisk(sim, { tornWriteRate: 1 })
    return {
      impl: {
        open: () => disk.logStore(),
        drive: (promise) => sim.await(promise),
        crash: () => disk.crash(),
      },
      teardown: () => undefined,
    }
  },
  'SimLogStore with torn writes',
  { crash: true },
)

runSnapshotStoreTests(
  () => {
    const sim = new Simulation({ seed: 22 })
    const disk = new SimDisk(sim)
    return {
      impl: {
        open: () => disk.snapshotStore(),
        drive: (promise) => sim.await(promise),
        crash: () => disk.crash(),
      },
      teardown: () => undefined,
    }
  },
  'SimSnapshotStore',
  { crash: true },
)
