import { describe, expect, it } from 'vitest'
import { SimCluster } from './sim-cluster'

// Goal: the runtime, unchanged, elects, commits, forwards and reads on the simulator. Method: a
// three-node cluster on SimNetwork/SimDisk; submit through a follower and read back.
describe('ConsensusRuntime on the simulator', () => {
  it('commits through a follower and reads it back linearizably from every node', async () => {
    const cluster = new SimCluster({ seed: 7, size: 3 })
    await cluster.startAll()
    const sim = cluster.sim
    expect(await sim.runUntilAsync(() => cluster.leader() !== null, { timeMsMax: 5_000 })).toBe(true)
    const leader = cluster.leader()!
    const follower = cluster.aliveNodes().find((node) => node !== leader)!
    await sim.await(cluster.put(follower, 'x', 'one'))
    for (const node of cluster.nodes) expect(await sim.await(cluster.get(node, 'x'))).toBe('one')
  })
})
