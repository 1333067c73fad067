import type { EntryKind, HardState, LogEntry } from '@socketcloud/core'
import { DecodeError, utf8Decode, utf8Encode } from '@socketcloud/core'
import { ByteReader, ByteWriter } from './byte-writer'
import { FRAME_PAYLOAD_OFFSET, allocateFrame, encodeFrame, sealFrame } from './record-frame'

/**
 * The records of the write-ahead log. Every segment opens with a SegmentHeader that repeats the
 * state a reader needs when earlier segments have been deleted by compaction (hard state,
 * compaction point, last index at the time of rotation), so each segment can start a replay.
 */
export const RecordType = Object.freeze({
  segmentHeader: 1,
  entry: 2,
  hardState: 3,
  compaction: 4,
})

const SEGMENT_MAGIC = 0x5343574c // "SCWL"
export const LOG_FORMAT_VERSION = 1
const VOTE_BYTES_MAX = 1024
const ENTRY_FIXED_BYTES = 17
const TWO_TO_32 = 2 ** 32

export interface SegmentHeader {
  readonly sequence: number
  readonly compactedIndex: number
  readonly compactedTerm: number
  /** Last log index when the segment was opened; entries up to it live in earlier segments. */
  readonly lastIndex: number
  /** Final size of the previous segment, so a reader notices that segment losing its tail. */
  readonly previousSegmentBytes: number
  readonly hardState: HardState | null
}

/** `keepSuffix`: the entry at `index` had `term`, so later entries stay; otherwise the whole log goes. */
export interface CompactionRecord {
  readonly index: number
  readonly term: number
  readonly keepSuffix: boolean
}

export type LogRecord =
  | { readonly type: 'segmentHeader'; readonly header: SegmentHeader }
  | { readonly type: 'entry'; readonly entry: LogEntry }
  | { readonly type: 'hardState'; readonly hardState: HardState }
  | { readonly type: 'compaction'; readonly compaction: CompactionRecord }

const ENTRY_KINDS: readonly EntryKind[] = ['command', 'config', 'noop']

function writeHardState(writer: ByteWriter, hardState: HardState): void {
  const vote = hardState.vote === null ? null : utf8Encode(hardState.vote)
  const flags = (vote === null ? 0 : 1) | (hardState.extra === undefined ? 0 : 2)
  writer.u64(hardState.term).u64(hardState.commit).u8(flags)
  if (vote !== null) writer.u16(vote.length).raw(vote)
  if (hardState.extra !== undefined) writer.u32(hardState.extra.length).raw(hardState.extra)
}

function readHardState(reader: ByteReader): HardState {
  const term = reader.u64()
  const commit = reader.u64()
  const flags = reader.u8()
  if (flags > 3) throw new DecodeError('INVALID_FIELD', 'hard state: unknown flags', { flags })
  let vote: string | null = null
  if (flags & 1) {
    const length = reader.u16()
    if (length > VOTE_BYTES_MAX) throw new DecodeError('OVERSIZED', 'hard state: vote too long')
    vote = utf8Decode(reader.bytesOf(length))
  }
  if (flags & 2) {
    const extra = reader.bytesOf(reader.u32())
    return { term, vote, commit, extra }
  }
  return { term, vote, commit }
}

export function encodeSegmentHeader(header: SegmentHeader): Uint8Array {
  const writer = new ByteWriter()
  writer.u32(SEGMENT_MAGIC).u8(LOG_FORMAT_VERSION).u64(header.sequence)
  writer.u64(header.compactedIndex).u64(header.compactedTerm).u64(header.lastIndex)
  writer.u64(header.previousSegmentBytes)
  writer.u8(header.hardState === null ? 0 : 1)
  if (header.hardState !== null) writeHardState(writer, header.hardState)
  return encodeFrame(RecordType.segmentHeader, writer.finish())
}

/** Hot path: one allocation per entry, fields written in place (the layout ByteWriter would produce). */
export function encodeEntry(entry: LogEntry): Uint8Array {
  const frame = allocateFrame(RecordType.entry, ENTRY_FIXED_BYTES + entry.data.length)
  const view = new DataView(frame.buffer, FRAME_PAYLOAD_OFFSET)
  view.setUint32(0, entry.index % TWO_TO_32, true)
  view.setUint32(4, Math.floor(entry.index / TWO_TO_32), true)
  view.setUint32(8, entry.term % TWO_TO_32, true)
  view.setUint32(12, Math.floor(entry.term / TWO_TO_32), true)
  frame[FRAME_PAYLOAD_OFFSET + 16] = ENTRY_KINDS.indexOf(entry.kind)
  frame.set(entry.data, FRAME_PAYLOAD_OFFSET + ENTRY_FIXED_BYTES)
  return sealFrame(frame)
}

export function encodeHardState(hardState: HardState): Uint8Array {
  const writer = new ByteWriter()
  writeHardState(writer, hardState)
  return encodeFrame(RecordType.hardState, writer.finish())
}

export function encodeCompaction(compaction: CompactionRecord): Uint8Array {
  const writer = new ByteWriter()
  writer
    .u64(compaction.index)
    .u64(compaction.term)
    .u8(compaction.keepSuffix ? 1 : 0)
  return encodeFrame(RecordType.compaction, writer.finish())
}

/** Decodes a record whose frame checksum already matched; a malformed payload is a DecodeError. */
export function decodeRecord(type: number, payload: Uint8Array): LogRecord {
  switch (type) {
    case RecordType.segmentHeader: {
      const reader = new ByteReader(payload, 'segment header')
      if (reader.u32() !== SEGMENT_MAGIC) throw new DecodeError('MALFORMED', 'segment header: bad magic')
      const version = reader.u8()
      if (version !== LOG_FORMAT_VERSION) {
        throw new DecodeError('UNSUPPORTED_VERSION', `log format version ${version}`, { version })
      }
      const sequence = reader.u64()
      const compactedIndex = reader.u64()
      const compactedTerm = reader.u64()
      const lastIndex = reader.u64()
      const previousSegmentBytes = reader.u64()
      const hasHardState = reader.u8()
      const hardState = hasHardState === 1 ? readHardState(reader) : null
      reader.expectEnd()
      return {
        type: 'segmentHeader',
        header: { sequence, compactedIndex, compactedTerm, lastIndex, previousSegmentBytes, hardState },
      }
    }
    case RecordType.entry: {
      const reader = new ByteReader(payload, 'entry')
      const index = reader.u64()
      const term = reader.u64()
      const kind = ENTRY_KINDS[reader.u8()]
      if (kind === undefined) throw new DecodeError('INVALID_FIELD', 'entry: unknown kind')
      return { type: 'entry', entry: { index, term, kind, data: reader.rest() } }
    }
    case RecordType.hardState: {
      const reader = new ByteReader(payload, 'hard state')
      const hardState = readHardState(reader)
      reader.expectEnd()
      return { type: 'hardState', hardState }
    }
    case RecordType.compaction: {
      const reader = new ByteReader(payload, 'compaction')
      const index = reader.u64()
      const term = reader.u64()
      const keepSuffix = reader.u8() === 1
      reader.expectEnd()
      return { type: 'compaction', compaction: { index, term, keepSuffix } }
    }
    default:
      throw new DecodeError('UNKNOWN_TYPE', `unknown log record type ${type}`, { type })
  }
}
