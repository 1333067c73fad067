/**
 * Goal: FileSnapshotStore saves atomically, returns the newest intact snapshot, falls back past a
 * damaged one, keeps only the newest N, and cleans up after an interrupted save.
 * Method: save through the API, then damage or plant files directly in the directory and reopen.
 */
import { readFile, readdir, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { Snapshot } from '@socketcloud/core'
import { BytesInParts, LimitExceededError } from '@socketcloud/core'
import { FileSnapshotStore } from '@socketcloud/storage'
import { TempDirs } from './temp-dir'

const dirs = new TempDirs()
afterEach(() => dirs.cleanup())

function snapshot(index: number, size = 64): Snapshot {
  const data = new Uint8Array(size)
  for (let i = 0; i < size; i++) data[i] = (index + i) & 0xff
  return { meta: { index, term: index + 1, membership: new Uint8Array([1, 2, index & 0xff]) }, data }
}

async function snapshotFiles(directory: string): Promise<string[]> {
  return (await readdir(directory)).filter((name) => name.endsWith('.snap')).sort()
}

describe('FileSnapshotStore', () => {
  it('loads null when empty and the newest snapshot after a reopen', async () => {
    const directory = await dirs.make()
    let store = await FileSnapshotStore.open(directory)
    expect(await store.load()).toBeNull()
    await store.save(snapshot(10))
    await store.save(snapshot(20, 100_000))
    await store.close()
    store = await FileSnapshotStore.open(directory)
    expect(await store.load()).toEqual(snapshot(20, 100_000))
    await store.close()
  })

  it('writes a snapshot held in pieces as the very file of the joined one', async () => {
    // A stepped encode hands the snapshot over in pieces; the file (and its checksum) must not depend
    // on how the bytes were cut, or a file saved one way would not load after the other.
    const whole = snapshot(30, 50_000)
    const data = whole.data as Uint8Array
    const pieces = [data.subarray(0, 1), new Uint8Array(0), data.subarray(1, 20_001), data.subarray(20_001)]
    const [joinedDirectory, piecesDirectory] = [await dirs.make(), await dirs.make()]
    const joinedStore = await FileSnapshotStore.open(joinedDirectory)
    const piecesStore = await FileSnapshotStore.open(piecesDirectory)
    await joinedStore.save(whole)
    await piecesStore.save({ meta: whole.meta, data: new BytesInParts(pieces) })
    const [name] = await snapshotFiles(joinedDirectory)
    expect(await snapshotFiles(piecesDirectory)).toEqual([name])
    const piecesFile = await readFile(join(piecesDirectory, name!))
    expect(piecesFile.equals(await readFile(join(joinedDirectory, name!)))).toBe(true)
    expect(await piecesStore.load()).toEqual(whole)
    await joinedStore.close()
    await piecesStore.close()
  })

  it('keeps only the newest retainCount snapshots', async () => {
    const directory = await dirs.make()
    const store = await FileSnapshotStore.open(directory, { retainCount: 3 })
    for (let index = 1; index <= 6; index++) await store.save(snapshot(index * 10))
    expect(await snapshotFiles(directory)).toHaveLength(3)
    expect(await store.load()).toEqual(snapshot(60))
    await store.close()
  })

  it('falls back to the previous snapshot when the newest is damaged anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0, max: 0.9999, noNaN: true }),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        async (fraction, mask, cut) => {
          const directory = await dirs.make()
          let store = await FileSnapshotStore.open(directory)
          await store.save(snapshot(1))
          await store.save(snapshot(2, 300))
          await store.close()
          const newest = join(directory, (await snapshotFiles(directory))[1]!)
          const bytes = await readFile(newest)
          const offset = Math.floor(fraction * bytes.length)
          if (cut) await truncate(newest, offset)
          else {
            bytes[offset]! ^= mask
            await writeFile(newest, bytes)
          }
          store = await FileSnapshotStore.open(directory)
          expect(await store.load()).toEqual(snapshot(1))
          await store.close()
          await dirs.cleanup()
        },
      ),
      { numRuns: 60 },
    )
  })

  it('removes a temporary file left by an interrupted save and never loads it', async () => {
    const directory = await dirs.make()
    let store = await FileSnapshotStore.open(directory)
    await store.save(snapshot(5))
    await store.close()
    await writeFile(join(directory, 'snapshot-0000000000000002.snap.tmp'), new Uint8Array([1, 2, 3]))
    store = await FileSnapshotStore.open(directory)
    expect((await readdir(directory)).some((name) => name.endsWith('.tmp'))).toBe(false)
    expect(await store.load()).toEqual(snapshot(5))
    await store.save(snapshot(6))
    expect(await store.load()).toEqual(snapshot(6))
    await store.close()
  })

  it('refuses a snapshot over snapshotBytesMax and calls after close', async () => {
    const store = await FileSnapshotStore.open(await dirs.make(), { snapshotBytesMax: 1024 })
    await expect(store.save(snapshot(1, 4096))).rejects.toBeInstanceOf(LimitExceededError)
    await store.close()
    await expect(store.load()).rejects.toMatchObject({ code: 'CLOSED' })
    await expect(store.save(snapshot(1))).rejects.toMatchObject({ code: 'CLOSED' })
  })
})
