/**
 * Goal: FileLogStore keeps the LogStore contract on real files — what was written comes back after a
 * reopen, conflicting suffixes are replaced, compaction drops whole segments and survives a restart,
 * concurrent syncs share fsyncs, and misuse is refused with typed errors.
 * Method: write through the public API, close, reopen from the same directory and compare `load()`.
 */
import { readFile, readdir, rm, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { LogEntry } from '@socketcloud/core'
import { LimitExceededError, MemoryMetrics, StorageError } from '@socketcloud/core'
import { FileLogStore } from '@socketcloud/storage'
import { TempDirs } from './temp-dir'

const dirs = new TempDirs()
afterEach(() => dirs.cleanup())

function entry(index: number, term: number, size = 8): LogEntry {
  const data = new Uint8Array(size)
  data.fill(index % 251)
  return { index, term, kind: 'command', data }
}

function range(from: number, to: number, term: number, size = 8): LogEntry[] {
  const out: LogEntry[] = []
  for (let index = from; index <= to; index++) out.push(entry(index, term, size))
  return out
}

async function reopen(store: FileLogStore, init = {}): Promise<FileLogStore> {
  await store.close()
  return FileLogStore.open(store.directory, init)
}

describe('FileLogStore', () => {
  it('starts empty and returns entries and hard state after a reopen', async () => {
    let store = await FileLogStore.open(await dirs.make())
    expect(await store.load()).toEqual({ hardState: null, entries: [], compactedIndex: 0, compactedTerm: 0 })
    const hardState = { term: 3, vote: 'node-b', commit: 2, extra: new Uint8Array([9, 8]) }
    await store.write({ entries: range(1, 5, 3), hardState }, { sync: true })
    store = await reopen(store)
    const state = await store.load()
    expect(state.hardState).toEqual(hardState)
    expect(state.entries).toEqual(range(1, 5, 3))
    await store.close()
  })

  it('replaces a conflicting suffix, also across a restart', async () => {
    let store = await FileLogStore.open(await dirs.make())
    await store.write({ entries: range(1, 10, 1) }, { sync: true })
    await store.write({ entries: range(6, 7, 2) }, { sync: true })
    expect((await store.load()).entries).toEqual([...range(1, 5, 1), ...range(6, 7, 2)])
    store = await reopen(store)
    expect((await store.load()).entries).toEqual([...range(1, 5, 1), ...range(6, 7, 2)])
    await store.write({ entries: range(8, 9, 2) }, { sync: false })
    store = await reopen(store)
    expect((await store.load()).entries).toEqual([...range(1, 5, 1), ...range(6, 9, 2)])
    await store.close()
  })

  it('refuses a gap or a write below the compaction point without poisoning the store', async () => {
    const store = await FileLogStore.open(await dirs.make())
    await store.write({ entries: range(1, 3, 1) }, { sync: true })
    await expect(store.write({ entries: [entry(5, 1)] }, { sync: true })).rejects.toMatchObject({
      code: 'OUT_OF_ORDER',
    })
    await store.compact(2, 1)
    await expect(store.write({ entries: [entry(2, 1)] }, { sync: true })).rejects.toBeInstanceOf(StorageError)
    await store.write({ entries: [entry(4, 1)] }, { sync: true })
    expect((await store.load()).entries).toEqual([entry(3, 1), entry(4, 1)])
    await store.close()
  })

  it('rotates segments at the size limit and reads them all back', async () => {
    let store = await FileLogStore.open(await dirs.make(), { segmentBytesMax: 1024 })
    for (let index = 1; index <= 200; index += 10) {
      await store.write(
        { entries: range(index, index + 9, 1, 40), hardState: { term: 1, vote: null, commit: index } },
        { sync: index % 20 === 1 },
      )
    }
    expect(store.stats.rotations).toBeGreaterThan(5)
    const files = (await readdir(store.directory)).filter((name) => name.endsWith('.wal'))
    expect(files.length).toBe(store.stats.rotations + 1)
    store = await reopen(store, { segmentBytesMax: 1024 })
    const state = await store.load()
    expect(state.entries).toEqual(range(1, 200, 1, 40))
    expect(state.hardState).toEqual({ term: 1, vote: null, commit: 191 })
    await store.close()
  })

  it('compaction keeps the suffix, deletes whole segments and survives a restart', async () => {
    let store = await FileLogStore.open(await dirs.make(), { segmentBytesMax: 1024 })
    await store.write(
      { entries: range(1, 100, 2, 40), hardState: { term: 2, vote: 'a', commit: 90 } },
      { sync: true },
    )
    const before = (await readdir(store.directory)).filter((name) => name.endsWith('.wal')).length
    await store.compact(80, 2)
    const after = (await readdir(store.directory)).filter((name) => name.endsWith('.wal')).length
    expect(after).toBeLessThan(before)
    expect(store.stats.segmentsDeleted).toBe(before - after)
    store = await reopen(store, { segmentBytesMax: 1024 })
    const state = await store.load()
    expect(state.compactedIndex).toBe(80)
    expect(state.compactedTerm).toBe(2)
    expect(state.entries).toEqual(range(81, 100, 2, 40))
    expect(state.hardState).toEqual({ term: 2, vote: 'a', commit: 90 })
    await store.write({ entries: range(101, 120, 2, 40) }, { sync: true })
    await store.compact(118, 2)
    store = await reopen(store, { segmentBytesMax: 1024 })
    expect(await store.load()).toMatchObject({ compactedIndex: 118, entries: range(119, 120, 2, 40) })
    await store.close()
  })

  it('a compaction whose term disagrees with the log drops every entry (InstallSnapshot)', async () => {
    let store = await FileLogStore.open(await dirs.make())
    await store.write({ entries: range(1, 10, 1) }, { sync: true })
    await store.compact(5, 3)
    expect(await store.load()).toMatchObject({ compactedIndex: 5, compactedTerm: 3, entries: [] })
    await store.write({ entries: [entry(6, 3)] }, { sync: true })
    store = await reopen(store)
    expect(await store.load()).toMatchObject({ compactedIndex: 5, compactedTerm: 3, entries: [entry(6, 3)] })
    await store.compact(50, 4)
    store = await reopen(store)
    expect(await store.load()).toMatchObject({ compactedIndex: 50, compactedTerm: 4, entries: [] })
    await store.write({ entries: [entry(51, 4)] }, { sync: true })
    await store.close()
  })

  it('merges concurrent sync writes into a few fsyncs (group commit), and counts them in metrics', async () => {
    const metrics = new MemoryMetrics()
    let store = await FileLogStore.open(await dirs.make(), { metrics })
    const writes: Promise<void>[] = []
    for (let index = 1; index <= 100; index++)
      writes.push(store.write({ entries: [entry(index, 1)] }, { sync: true }))
    await Promise.all(writes)
    expect(store.stats.syncs).toBeLessThanOrEqual(3)
    expect(metrics.total('socketcloud_storage_log_fsyncs_total')).toBe(store.stats.syncs)
    expect(metrics.observations('socketcloud_storage_log_fsync_seconds')).toHaveLength(store.stats.syncs)
    expect(metrics.total('socketcloud_storage_log_bytes_written_total')).toBe(store.stats.bytesWritten)
    store = await reopen(store)
    expect((await store.load()).entries).toEqual(range(1, 100, 1))
    await store.close()
  })

  it('makes unsynced writes durable with the next sync, in call order', async () => {
    let store = await FileLogStore.open(await dirs.make())
    const unsynced = store.write({ entries: range(1, 3, 1) }, { sync: false })
    await store.write({ hardState: { term: 1, vote: null, commit: 3 } }, { sync: true })
    await unsynced
    expect(store.stats.syncs).toBe(1)
    store = await reopen(store)
    expect(await store.load()).toMatchObject({ entries: range(1, 3, 1), hardState: { commit: 3 } })
    await store.close()
  })

  it('holds writes beyond queuedBytesMax until the queue drains, keeping their order', async () => {
    let store = await FileLogStore.open(await dirs.make(), { queuedBytesMax: 1024 })
    const writes: Promise<void>[] = []
    for (let index = 1; index <= 50; index++)
      writes.push(store.write({ entries: [entry(index, 1, 200)] }, { sync: index % 7 === 0 }))
    await Promise.all(writes)
    store = await reopen(store)
    expect((await store.load()).entries).toEqual(range(1, 50, 1, 200))
    await store.close()
  })

  it('refuses oversized records and calls after close with typed errors', async () => {
    const store = await FileLogStore.open(await dirs.make(), { recordBytesMax: 1024 })
    await expect(store.write({ entries: [entry(1, 1, 2048)] }, { sync: true })).rejects.toBeInstanceOf(
      LimitExceededError,
    )
    await store.write({ entries: [entry(1, 1, 1000)] }, { sync: true })
    await store.close()
    await expect(store.write({ entries: [entry(2, 1)] }, { sync: true })).rejects.toMatchObject({
      code: 'CLOSED',
    })
    await expect(store.load()).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('validates its limits at open', async () => {
    const directory = await dirs.make()
    await expect(FileLogStore.open(directory, { segmentBytesMax: 0 })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
    })
  })
})

describe('FileLogStore compaction floor', () => {
  it('keeps an acknowledged compaction when the segment holding its record loses its tail', async () => {
    const directory = await dirs.make()
    const store = await FileLogStore.open(directory, { segmentBytesMax: 300 })
    await store.write({ entries: range(1, 30, 1, 40) }, { sync: true })
    await store.compact(20, 1)
    await store.close()
    const segments = (await readdir(directory)).filter((name) => name.endsWith('.wal')).sort()
    // Cut the oldest remaining segment right after its header: the compaction record and every
    // entry after it are gone, and that header still says entries before it live in deleted files.
    const first = join(directory, segments[0]!)
    const bytes = await readFile(first)
    const headerEnd = 8 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)
    await truncate(first, headerEnd)
    const reopened = await FileLogStore.open(directory, { segmentBytesMax: 300 })
    expect(await reopened.load()).toEqual({
      hardState: null,
      entries: [],
      compactedIndex: 20,
      compactedTerm: 1,
    })
    await reopened.write({ entries: [entry(21, 2)] }, { sync: true })
    await reopened.close()
  })
})

describe('FileLogStore I/O failure', () => {
  it('rejects the failed write and every later call with the same IO_ERROR, and still closes', async () => {
    const directory = await dirs.make()
    const store = await FileLogStore.open(directory, { segmentBytesMax: 256 })
    await store.write({ entries: [entry(1, 1, 100)] }, { sync: true })
    // The directory disappears under the store: the next rotation cannot create its segment.
    await rm(directory, { recursive: true, force: true })
    const failed = store.write({ entries: range(2, 6, 1, 100) }, { sync: true })
    await expect(failed).rejects.toMatchObject({ code: 'IO_ERROR', context: { operation: 'create segment' } })
    const error = await failed.catch((thrown: unknown) => thrown)
    await expect(store.write({ entries: [entry(7, 1)] }, { sync: false })).rejects.toBe(error)
    await expect(store.compact(1, 1)).rejects.toBe(error)
    await store.close()
  })
})

describe('FileLogStore oversized records', () => {
  it('gives a record larger than segmentBytesMax a segment of its own, without empty segments', async () => {
    let store = await FileLogStore.open(await dirs.make(), { segmentBytesMax: 256 })
    await store.write({ entries: range(1, 3, 1, 600) }, { sync: true })
    const files = (await readdir(store.directory)).filter((name) => name.endsWith('.wal'))
    expect(files).toHaveLength(3)
    store = await reopen(store, { segmentBytesMax: 256 })
    expect((await store.load()).entries).toEqual(range(1, 3, 1, 600))
    await store.close()
  })
})

describe('FileLogStore input validation', () => {
  it('refuses malformed entries, hard states and compactions with StorageError and keeps working', async () => {
    const store = await FileLogStore.open(await dirs.make())
    const malformed: LogEntry = { index: 1.5, term: 1, kind: 'command', data: new Uint8Array() }
    await expect(store.write({ entries: [malformed] }, { sync: true })).rejects.toMatchObject({
      code: 'CORRUPT',
    })
    await expect(store.write({ entries: [entry(1, 1), entry(3, 1)] }, { sync: true })).rejects.toMatchObject({
      code: 'OUT_OF_ORDER',
    })
    await expect(
      store.write({ hardState: { term: -1, vote: null, commit: 0 } }, { sync: true }),
    ).rejects.toMatchObject({ code: 'CORRUPT' })
    await expect(store.compact(Number.NaN, 1)).rejects.toBeInstanceOf(StorageError)
    await store.write({ entries: [entry(1, 1)] }, { sync: true })
    expect((await store.load()).entries).toEqual([entry(1, 1)])
    await store.close()
  })
})
