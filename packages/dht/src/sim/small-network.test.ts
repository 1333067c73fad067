// Goal: on a few hundred simulated nodes, every present node is found, records written by their owner
// are read back by everyone, newer versions replace older ones, and a node joining late is found.
// Method: networks built by real joins on the simulator (10 ms links), one per seed from SIM_SEEDS;
// a failure prints the seed and SIM_SEED=<n> replays it.
import { describe, expect, it } from 'vitest'
import { runSeeds } from '@socketcloud/sim'
import { buildSimCluster } from '../test/sim-cluster'

const SIZE = 150

function keyOf(n: number): Uint8Array {
  const key = new Uint8Array(32)
  key[0] = n & 0xff
  key[1] = (n >>> 8) & 0xff
  key[31] = 0x5a
  return key
}

describe('DHT on a small simulated network', () => {
  it('finds every present node and reads back every record', async () => {
    await runSeeds('dht small network', { count: 3 }, async (seed) => {
      const cluster = await buildSimCluster({ seed, size: SIZE, joinBatch: 25 })
      const random = cluster.sim.random.fork()
      for (let i = 0; i < 60; i++) {
        const from = cluster.nodes[random.nextInt(SIZE)]!
        const target = cluster.ids[random.nextInt(SIZE)]!
        const result = await cluster.settle(from.findNode(target))
        if (from.localId.equals(target)) continue
        expect(result.found?.id.hex, `lookup ${i} of ${target.toShortString()}`).toBe(target.hex)
        expect(result.found?.addresses).toEqual([cluster.addresses[cluster.ids.indexOf(target)]])
      }
      for (let n = 0; n < 10; n++) {
        const owner = cluster.nodes[random.nextInt(SIZE)]!
        const stored = await cluster.settle(owner.put(keyOf(n), new TextEncoder().encode(`value ${n}`)))
        expect(stored.storedCount).toBeGreaterThanOrEqual(15)
      }
      for (let n = 0; n < 10; n++) {
        const reader = cluster.nodes[random.nextInt(SIZE)]!
        const { record } = await cluster.settle(reader.get(keyOf(n)))
        expect(new TextDecoder().decode(record?.value)).toBe(`value ${n}`)
      }
    })
  })

  it('a newer version from the owner replaces the old one everywhere; a late joiner is found by all', async () => {
    await runSeeds('dht versions and late joiner', { count: 2 }, async (seed) => {
      const cluster = await buildSimCluster({ seed, size: 80, joinBatch: 20 })
      const owner = cluster.nodes[3]!
      const key = keyOf(7)
      const first = await cluster.settle(owner.put(key, new Uint8Array([1])))
      const second = await cluster.settle(owner.put(key, new Uint8Array([2])))
      expect(second.record.sequence).toBeGreaterThan(first.record.sequence)
      for (const reader of cluster.nodes.slice(0, 20)) {
        const { record } = await cluster.settle(reader.get(key))
        expect(record?.value).toEqual(new Uint8Array([2]))
      }
      const late = await cluster.addNode()
      await cluster.settle(late.bootstrap([cluster.addresses[0]!]))
      for (const node of cluster.nodes.slice(0, -1)) {
        const result = await cluster.settle(node.findNode(late.localId))
        expect(result.found?.id.hex).toBe(late.localId.hex)
      }
    })
  })
})
