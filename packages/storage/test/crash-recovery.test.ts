/**
 * Goal: after damage to the log files — a tail cut at any byte, or any byte flipped — reopening keeps
 * every record before the first damaged one and nothing from it on, and the repaired store works.
 * Method: fast-check generates a history of single-record operations (appends that may overwrite a
 * suffix, hard states, compactions that may delete segments) applied with fsync to a FileLogStore
 * with tiny segments, while a reference model records the state after each operation. Then one file
 * is truncated or one byte flipped at a seeded offset. The frames on disk tell which operation the
 * damage hit; the reopened store must load exactly the reference state before that operation.
 */
import { readFile, readdir, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { LogEntry, LogState } from '@socketcloud/core'
import { FileLogStore } from '@socketcloud/storage'
import { decodeLogMeta } from '../src/core/log-meta'
import { readFrame } from '../src/core/record-frame'
import { ReferenceLog } from './reference-log'
import { TempDirs } from './temp-dir'

const dirs = new TempDirs()
afterEach(() => dirs.cleanup())

const SEGMENT_BYTES_MAX = 400
const RECORD_BYTES_MAX = 1024

type Operation =
  | { kind: 'append'; back: number; bump: boolean; size: number; sync: boolean }
  | { kind: 'hardState'; vote: boolean; sync: boolean }
  | { kind: 'compact'; fraction: number; termMismatch: boolean }

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      back: fc.oneof(
        { weight: 5, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) },
      ),
      bump: fc.boolean(),
      size: fc.integer({ min: 0, max: 90 }),
      sync: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('hardState' as const), vote: fc.boolean(), sync: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('compact' as const),
      fraction: fc.double({ min: 0, max: 1, noNaN: true }),
      termMismatch: fc.boolean(),
    }),
  },
)

interface Damage {
  segmentFraction: number
  offsetFraction: number
  mode: 'truncate' | 'flip'
  mask: number
}

const damage: fc.Arbitrary<Damage> = fc.record({
  segmentFraction: fc.double({ min: 0, max: 0.9999, noNaN: true }),
  offsetFraction: fc.double({ min: 0, max: 0.9999, noNaN: true }),
  mode: fc.constantFrom('truncate' as const, 'flip' as const),
  mask: fc.integer({ min: 1, max: 255 }),
})

function dataFor(index: number, term: number, size: number): Uint8Array {
  const data = new Uint8Array(size)
  for (let i = 0; i < size; i++) data[i] = (index * 7 + term * 13 + i) & 0xff
  return data
}

/** Applies the history to the store and the reference; returns the reference state after each step. */
async function applyHistory(store: FileLogStore, history: readonly Operation[]): Promise<LogState[]> {
  const reference = new ReferenceLog()
  const states: LogState[] = [reference.state()]
  let term = 1
  for (const step of history) {
    if (step.kind === 'append') {
      if (step.bump) term++
      const index = Math.max(reference.compactedIndex + 1, reference.lastIndex + 1 - step.back)
      const entry: LogEntry = { index, term, kind: 'command', data: dataFor(index, term, step.size) }
      await store.write({ entries: [entry] }, { sync: step.sync })
      reference.append(entry)
    } else if (step.kind === 'hardState') {
      const hardState = { term, vote: step.vote ? `node-${term}` : null, commit: reference.compactedIndex }
      await store.write({ hardState }, { sync: step.sync })
      reference.hardState = hardState
    } else {
      const span = reference.lastIndex - reference.compactedIndex
      const index = reference.compactedIndex + 1 + Math.floor(step.fraction * (span + 2))
      const entryTerm = reference.entries[index - reference.compactedIndex - 1]?.term ?? term
      const compactTerm = step.termMismatch ? entryTerm + 1 : entryTerm
      await store.compact(index, compactTerm)
      reference.compact(index, compactTerm)
      term = Math.max(term, compactTerm)
    }
    states.push(reference.state())
  }
  return states
}

interface Frame {
  start: number
  end: number
  header: boolean
}

async function framesOf(directory: string): Promise<{ name: string; bytes: Uint8Array; frames: Frame[] }[]> {
  const names = (await readdir(directory)).filter((name) => name.endsWith('.wal')).sort()
  const segments = []
  for (const name of names) {
    const bytes = await readFile(join(directory, name))
    const frames: Frame[] = []
    let offset = 0
    for (;;) {
      const frame = readFrame(bytes, offset, RECORD_BYTES_MAX)
      if (frame.kind !== 'record') break
      frames.push({ start: offset, end: frame.next, header: frames.length === 0 })
      offset = frame.next
    }
    expect(offset).toBe(bytes.length)
    segments.push({ name, bytes, frames })
  }
  return segments
}

/**
 * Shrunk counterexamples of earlier failures, replayed before the random runs. The first: entry 3 was
 * replaced by a shorter log (an append at 2), then compaction to 2 deleted the older segment and the
 * segment was cut cleanly right after that append; replay applied the durable compaction floor first,
 * skipped the append at 2 as compacted and so resurrected the replaced entry 3.
 */
const REGRESSIONS: [Operation[], Damage][] = [
  [
    [
      { kind: 'append', back: 0, bump: false, size: 22, sync: false },
      { kind: 'hardState', vote: true, sync: false },
      { kind: 'append', back: 0, bump: false, size: 48, sync: false },
      { kind: 'compact', fraction: 0, termMismatch: false },
      { kind: 'append', back: 1, bump: false, size: 22, sync: false },
      { kind: 'append', back: 0, bump: false, size: 90, sync: false },
      { kind: 'append', back: 2, bump: false, size: 0, sync: false },
      { kind: 'compact', fraction: 0, termMismatch: false },
      { kind: 'append', back: 1, bump: false, size: 0, sync: false },
    ],
    { segmentFraction: 0, offsetFraction: 0.8102189781021898, mode: 'truncate', mask: 1 },
  ],
]

describe('FileLogStore crash recovery', () => {
  it('keeps every record before the first damaged one and nothing after it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 40 }), damage, async (history, hit) => {
        const directory = await dirs.make()
        const store = await FileLogStore.open(directory, {
          segmentBytesMax: SEGMENT_BYTES_MAX,
          recordBytesMax: RECORD_BYTES_MAX,
        })
        const states = await applyHistory(store, history)
        await store.close()

        const segments = await framesOf(directory)
        const recordsOnDisk = segments.reduce((sum, segment) => sum + segment.frames.length - 1, 0)
        // Records of operations whose segments compaction deleted are not on disk; they come first.
        const deletedOperations = history.length - recordsOnDisk
        const position = Math.floor(hit.segmentFraction * segments.length)
        const segment = segments[position]!
        const offset = Math.floor(hit.offsetFraction * segment.bytes.length)
        const path = join(directory, segment.name)
        if (hit.mode === 'truncate') {
          await truncate(path, offset)
        } else {
          const bytes = Uint8Array.from(segment.bytes)
          bytes[offset]! ^= hit.mask
          await writeFile(path, bytes)
        }

        const firstDamaged = segment.frames.findIndex((frame) =>
          hit.mode === 'truncate' ? frame.end > offset : frame.start <= offset && offset < frame.end,
        )
        let survivingRecords = 0
        for (let earlier = 0; earlier < position; earlier++)
          survivingRecords += segments[earlier]!.frames.length - 1
        const damagedFrame = segment.frames[firstDamaged]
        const reopened = await FileLogStore.open(directory, {
          segmentBytesMax: SEGMENT_BYTES_MAX,
          recordBytesMax: RECORD_BYTES_MAX,
        })
        const loaded = await reopened.load()
        if (damagedFrame === undefined) {
          // A cut exactly at the end of the last segment loses nothing.
          expect(loaded).toEqual(states[history.length])
        } else if (damagedFrame.header && position === 0) {
          // The oldest surviving header carried what deleted segments held; without it the log is empty.
          expect(loaded.entries).toEqual([])
          expect(loaded.hardState).toBeNull()
          expect(loaded.compactedIndex).toBe((await floorOf(directory))?.index ?? 0)
        } else {
          const kept = survivingRecords + Math.max(0, firstDamaged - 1)
          expect(loaded).toEqual(withFloor(states[deletedOperations + kept]!, await floorOf(directory)))
          // A cut exactly between two records of the last segment leaves a shorter, intact log: nothing
          // to detect. Anywhere else the next segment's header no longer continues it, or the frame is torn.
          const cleanCut =
            hit.mode === 'truncate' &&
            offset === damagedFrame.start &&
            !damagedFrame.header &&
            position === segments.length - 1
          if (cleanCut) expect(reopened.recovery.damage).toBeNull()
          else expect(reopened.recovery.damage).not.toBeNull()
        }
        // The repaired log accepts appends and reads back after another restart.
        const next =
          loaded.entries.length > 0
            ? loaded.entries[loaded.entries.length - 1]!.index + 1
            : loaded.compactedIndex + 1
        const appended: LogEntry = { index: next, term: 1000, kind: 'noop', data: new Uint8Array(0) }
        await reopened.write({ entries: [appended] }, { sync: true })
        await reopened.close()
        const again = await FileLogStore.open(directory, {
          segmentBytesMax: SEGMENT_BYTES_MAX,
          recordBytesMax: RECORD_BYTES_MAX,
        })
        const final = await again.load()
        expect(final.entries).toEqual([...loaded.entries, appended])
        await again.close()
        await dirs.cleanup()
      }),
      {
        numRuns: Number(process.env['STORAGE_CRASH_RUNS'] ?? 80),
        seed: envSeed(),
        examples: REGRESSIONS,
      },
    )
    // Thousands of real fsyncs: generous for a disk shared with other work; a quiet disk takes seconds.
  }, 240_000)
})

/** The compaction point made durable in log.meta before segments were deleted (null if none were). */
async function floorOf(directory: string): Promise<{ index: number; term: number } | null> {
  try {
    return decodeLogMeta(await readFile(join(directory, 'log.meta')))
  } catch (thrown) {
    if ((thrown as { code?: unknown }).code === 'ENOENT') return null
    throw thrown
  }
}

/**
 * A compaction whose record was lost to the damage still holds when segments were deleted for it:
 * it was acknowledged, and its point lives in log.meta, not in the damaged segment.
 */
function withFloor(state: LogState, floor: { index: number; term: number } | null): LogState {
  if (floor === null || floor.index <= state.compactedIndex) return state
  return {
    ...state,
    compactedIndex: floor.index,
    compactedTerm: floor.term,
    entries: state.entries.filter((entry) => entry.index > floor.index),
  }
}

function envSeed(): number | undefined {
  const seed = process.env['SIM_SEED']
  return seed === undefined ? undefined : Number(seed)
}
