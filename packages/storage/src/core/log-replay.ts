import { DecodeError, StorageError } from '@socketcloud/core'
import { LogModel } from './log-model'
import { decodeRecord } from './log-records'
import type { LogRecord } from './log-records'
import { readFrame } from './record-frame'

export interface SegmentBytes {
  readonly sequence: number
  readonly bytes: Uint8Array
}

/** Where replay stopped trusting the log: everything from `offset` of segment `position` on is dropped. */
export interface LogDamage {
  readonly position: number
  readonly sequence: number
  readonly offset: number
  readonly reason: string
}

/** The compaction point that was durable when segments were last deleted (from the log's meta file). */
export interface CompactionFloor {
  readonly index: number
  readonly term: number
}

export interface ReplayResult {
  /** Null when not even the first segment's header is intact (the log is empty). */
  readonly model: LogModel | null
  readonly damage: LogDamage | null
  /** Byte length of the intact prefix of each segment that was read, by position. */
  readonly intactBytes: readonly number[]
  /** `lastIndex` of each intact segment header, by position. */
  readonly headerLastIndexes: readonly number[]
  /** Intact records after the header in each segment that was read, by position. */
  readonly recordCounts: readonly number[]
}

/**
 * Replays segments in order into a LogModel and stops at the first record that is not intact: a torn
 * or corrupt frame, an undecodable payload, a header that does not continue its predecessor, or an
 * entry that would leave a gap. Nothing after that point is trusted, even if it looks valid, because
 * a record after a damaged one may depend on what was lost.
 */
export function replaySegments(
  segments: readonly SegmentBytes[],
  recordBytesMax: number,
  floor: CompactionFloor | null,
): ReplayResult {
  let model: LogModel | null = null
  const intactBytes: number[] = []
  const headerLastIndexes: number[] = []
  const recordCounts: number[] = []
  for (let position = 0; position < segments.length; position++) {
    const segment = segments[position]!
    const damage = (offset: number, reason: string): ReplayResult => {
      intactBytes.push(offset)
      recordCounts.push(records)
      return {
        model,
        damage: { position, sequence: segment.sequence, offset, reason },
        intactBytes,
        headerLastIndexes,
        recordCounts,
      }
    }
    let offset = 0
    let records = 0
    let first = true
    for (;;) {
      const frame = readFrame(segment.bytes, offset, recordBytesMax)
      if (frame.kind === 'end') {
        if (first) return damage(0, 'empty segment')
        break
      }
      if (frame.kind === 'damaged') return damage(offset, frame.reason)
      let record: LogRecord
      try {
        record = decodeRecord(frame.type, frame.payload)
      } catch (thrown) {
        if (thrown instanceof DecodeError) return damage(offset, `undecodable record: ${thrown.message}`)
        throw thrown
      }
      if (first) {
        if (record.type !== 'segmentHeader') return damage(0, 'segment does not start with a header')
        const header = record.header
        if (header.sequence !== segment.sequence) return damage(0, 'header names another segment')
        if (model === null) {
          model = new LogModel(header, true)
          // Segments before this one were deleted only after this floor was durable; it covers every
          // entry they held, so it is applied before this segment's records.
          if (floor !== null) model.applyCompaction({ ...floor, keepSuffix: true })
        } else if (
          segment.sequence !== segments[position - 1]!.sequence + 1 ||
          header.previousSegmentBytes !== intactBytes[position - 1]
        ) {
          return damage(0, 'header does not continue the previous segment')
        }
        headerLastIndexes.push(header.lastIndex)
        first = false
      } else {
        records++
        switch (record.type) {
          case 'segmentHeader':
            return damage(offset, 'header inside a segment')
          case 'entry':
            if (record.entry.index <= model!.compactedIndex) {
              model!.discardLiveEntries()
              break
            }
            if (record.entry.index > model!.lastIndex + 1) return damage(offset, 'entry leaves a gap')
            model!.append(record.entry, segment.sequence)
            break
          case 'hardState':
            model!.hardState = record.hardState
            break
          case 'compaction':
            model!.applyCompaction(record.compaction)
            break
        }
      }
      offset = frame.next
    }
    intactBytes.push(offset)
    recordCounts.push(records)
  }
  return { model, damage: null, intactBytes, headerLastIndexes, recordCounts }
}

/** Refuses a replayed model that still misses entries above its compaction point. */
export function checkComplete(model: LogModel): void {
  if (model.hasHole) {
    throw new StorageError(
      'CORRUPT',
      'log segments are missing: entries above the compaction point are gone',
      {
        compactedIndex: model.compactedIndex,
        lastIndex: model.lastIndex,
      },
    )
  }
}
