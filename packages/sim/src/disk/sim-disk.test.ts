// Goal: the simulated disk's crash model is exact — a crash keeps precisely what a sync covered, a
// torn crash keeps a prefix of the unsynced tail, snapshots are all-or-nothing, and handles from
// before a crash are dead. Method: write through the public LogStore/SnapshotStore API on virtual
// time, crash at chosen moments, reopen and compare with the writes we know were synced.
import { describe, expect, it } from 'vitest'
import type { LogEntry } from '@socketcloud/core'
import { SimDisk, Simulation, runSeeds } from '../index'

function entry(index: number, term = 1): LogEntry {
  return { index, term, kind: 'command', data: new Uint8Array([index & 0xff, term]) }
}

function indexes(entries: readonly LogEntry[]): number[] {
  return entries.map((item) => item.index)
}

describe('SimDisk crash semantics', () => {
  it('a crash keeps synced writes and loses unsynced ones', async () => {
    const sim = new Simulation({ seed: 1 })
    const disk = new SimDisk(sim, { syncLatencyMs: 2 })
    const log = disk.logStore()
    await sim.await(log.write({ entries: [entry(1), entry(2)] }, { sync: true }))
    await sim.await(
      log.write({ entries: [entry(3)], hardState: { term: 1, vote: 'a', commit: 2 } }, { sync: false }),
    )
    expect(indexes((await sim.await(log.load())).entries)).toEqual([1, 2, 3])
    disk.crash()
    const state = await sim.await(disk.logStore().load())
    expect(indexes(state.entries)).toEqual([1, 2])
    expect(state.hardState).toBeNull()
    expect(disk.stats).toMatchObject({ lostWrites: 1, crashes: 1 })
  })

  it('a later sync makes earlier unsynced writes durable', async () => {
    const sim = new Simulation({ seed: 1 })
    const disk = new SimDisk(sim)
    const log = disk.logStore()
    await sim.await(log.write({ entries: [entry(1)] }, { sync: false }))
    await sim.await(log.write({ entries: [entry(2)] }, { sync: false }))
    await sim.await(log.write({ hardState: { term: 2, vote: null, commit: 0 } }, { sync: true }))
    disk.crash()
    const state = await sim.await(disk.logStore().load())
    expect(indexes(state.entries)).toEqual([1, 2])
    expect(state.hardState).toEqual({ term: 2, vote: null, commit: 0 })
  })

  it('a crash before the sync completes loses the write, and its promise never settles', async () => {
    const sim = new Simulation({ seed: 1 })
    const disk = new SimDisk(sim, { syncLatencyMs: 5 })
    const log = disk.logStore()
    let settled = false
    log.write({ entries: [entry(1)] }, { sync: true }).then(
      () => (settled = true),
      () => (settled = true),
    )
    await sim.runForAsync(3)
    disk.crash()
    await sim.runForAsync(20)
    expect(settled).toBe(false)
    expect((await sim.await(disk.logStore().load())).entries).toEqual([])
  })

  it('handles opened before a crash are dead; reopened ones work', async () => {
    const sim = new Simulation({ seed: 1 })
    const disk = new SimDisk(sim)
    const old = disk.logStore()
    disk.crash()
    let settled = false
    old.write({ entries: [entry(1)] }, { sync: true }).then(() => (settled = true))
    await sim.runForAsync(10)
    expect(settled).toBe(false)
    const fresh = disk.logStore()
    expect(fresh).not.toBe(old)
    await sim.await(fresh.write({ entries: [entry(1)] }, { sync: true }))
    expect(disk.durableLogState().entries).toEqual([entry(1)])
  })

  it('compaction is durable once it resolves', async () => {
    const sim = new Simulation({ seed: 1 })
    const disk = new SimDisk(sim)
    const log = disk.logStore()
    await sim.await(log.write({ entries: [1, 2, 3, 4].map((i) => entry(i)) }, { sync: true }))
    await sim.await(log.compact(2, 1))
    disk.crash()
    const state = await sim.await(disk.logStore().load())
    expect(state.compactedIndex).toBe(2)
    expect(indexes(state.entries)).toEqual([3, 4])
  })

  it('a snapshot save is all or nothing across a crash', async () => {
    const sim = new Simulation({ seed: 1 })
    const disk = new SimDisk(sim, { syncLatencyMs: 4 })
    const store = disk.snapshotStore()
    const first = { meta: { index: 5, term: 1, membership: new Uint8Array([1]) }, data: new Uint8Array([5]) }
    const second = { meta: { index: 9, term: 2, membership: new Uint8Array([2]) }, data: new Uint8Array([9]) }
    await sim.await(store.save(first))
    let secondSettled = false
    const saving = store.save(second).finally(() => (secondSettled = true))
    await sim.runForAsync(2)
    disk.crash()
    await sim.runForAsync(10)
    expect(secondSettled).toBe(false)
    expect(await Promise.race([saving, Promise.resolve('pending')])).toBe('pending')
    expect(await sim.await(disk.snapshotStore().load())).toEqual(first)
  })

  it('torn crashes keep a prefix of the unsynced writes, never anything out of order', async () => {
    await runSeeds('torn writes keep a prefix', { count: 30 }, async (seed) => {
      const sim = new Simulation({ seed })
      const disk = new SimDisk(sim, { tornWriteRate: 1 })
      const log = disk.logStore()
      await sim.await(log.write({ entries: [entry(1), entry(2)] }, { sync: true }))
      const writes = [
        log.write({ entries: [entry(3), entry(4), entry(5)] }, { sync: false }),
        log.write({ entries: [entry(4, 2), entry(5, 2)] }, { sync: false }),
        log.write({ entries: [entry(6, 2)] }, { sync: false }),
      ]
      await sim.await(Promise.all(writes))
      disk.crash()
      const state = await sim.await(disk.logStore().load())
      const terms = state.entries.map((item) => `${item.index}:${item.term}`)
      const allowed = [
        ['1:1', '2:1'],
        ['1:1', '2:1', '3:1'],
        ['1:1', '2:1', '3:1', '4:1'],
        ['1:1', '2:1', '3:1', '4:1', '5:1'],
        ['1:1', '2:1', '3:1', '4:2'],
        ['1:1', '2:1', '3:1', '4:2', '5:2'],
        ['1:1', '2:1', '3:1', '4:2', '5:2', '6:2'],
      ].map((list) => list.join(' '))
      expect(allowed).toContain(terms.join(' '))
      expect(disk.stats.tornCrashes).toBe(1)
    })
  })
})
