import { assert, DecodeError, type EntryKind, type LogEntry } from '@socketcloud/core'
import { decodeMembership } from './membership'

/**
 * The entries of one append as a single binary blob instead of one MessagePack value per entry: the
 * per-entry maps/tuples cost more to pack, unpack and walk than the entries' data itself. Layout,
 * all integers big-endian:
 *
 *   blob  := entry*                                   (nothing else; no count, no padding)
 *   entry := kind u8 | termHigh u32 | termLow u32 | dataLength u32 | data[dataLength]
 *
 * `term = termHigh * 2^32 + termLow` (termHigh ≤ 2^21 - 1, so every term is a safe integer). An
 * entry's index is not sent: it is `prevIndex + position + 1` by construction, so contiguity is
 * structural rather than checked.
 */
export const entryHeaderBytes = 13

const kindCodes: Record<EntryKind, number> = { command: 0, config: 1, noop: 2 }
const kindsByCode: readonly EntryKind[] = ['command', 'config', 'noop']
const twoTo32 = 0x1_0000_0000
const termHighMax = 0x1f_ffff

export interface EntryBatchLimits {
  readonly entriesPerMessageMax: number
  readonly entryBytesMax: number
  readonly membershipBytesMax: number
}

/**
 * Hands out fresh, never-reused regions of larger shared ArrayBuffers. Allocating one ArrayBuffer
 * per message costs more than packing the message (a zeroed backing store plus GC bookkeeping
 * each time); carving blobs out of a slab amortises that. A region is never handed out twice, so
 * blobs never alias one another; a slab is freed once no blob in it is referenced.
 */
export class ByteSlab {
  private buffer = new ArrayBuffer(0)
  private used = 0

  constructor(private readonly slabBytes = 256 * 1024) {}

  take(length: number): Uint8Array {
    if (length > this.slabBytes / 4) return new Uint8Array(length)
    if (this.used + length > this.buffer.byteLength) {
      this.buffer = new ArrayBuffer(this.slabBytes)
      this.used = 0
    }
    const region = new Uint8Array(this.buffer, this.used, length)
    this.used += length
    return region
  }
}

/** Packs `entries` (which must follow `prevIndex` contiguously — the engine's invariant) into one blob. */
export function encodeEntryBatch(
  entries: readonly LogEntry[],
  prevIndex: number,
  slab: ByteSlab,
): Uint8Array {
  let size = 0
  for (let position = 0; position < entries.length; position++) {
    size += entryHeaderBytes + entries[position]!.data.length
  }
  const blob = slab.take(size)
  const view = new DataView(blob.buffer, blob.byteOffset, size)
  let offset = 0
  for (let position = 0; position < entries.length; position++) {
    const entry = entries[position]!
    assert(entry.index === prevIndex + position + 1, 'append entries must be contiguous after prevIndex')
    assert(Number.isSafeInteger(entry.term) && entry.term >= 0, 'entry term must be a safe integer')
    const data = entry.data
    view.setUint8(offset, kindCodes[entry.kind])
    view.setUint32(offset + 1, Math.floor(entry.term / twoTo32))
    view.setUint32(offset + 5, entry.term % twoTo32)
    view.setUint32(offset + 9, data.length)
    blob.set(data, offset + entryHeaderBytes)
    offset += entryHeaderBytes + data.length
  }
  return blob
}

/**
 * Decodes and validates an untrusted blob. Every entry's kind, term and length is checked: terms are
 * positive, never decrease (starting from `prevTerm`) and never exceed the message's `term`; data fits
 * `entryBytesMax` and the blob; a noop carries no data; a config entry holds a valid membership.
 * Each entry's data is a view into `input`, not a copy (as msgpackr's byte strings are views into
 * the frame): core's Transport hands every received frame to its one owner, so nothing rewrites it.
 */
export function decodeEntryBatch(
  input: Uint8Array,
  prevIndex: number,
  prevTerm: number,
  term: number,
  limits: EntryBatchLimits,
): LogEntry[] {
  // A plain Uint8Array over the input (msgpackr hands out Node Buffers; the engine's contract is
  // Uint8Array): its `subarray` then yields plain views, and is cheaper than constructing each view.
  const blob = new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength)
  const entries: LogEntry[] = []
  let previousTerm = prevTerm
  let offset = 0
  while (offset < blob.length) {
    const position = entries.length
    if (position >= limits.entriesPerMessageMax) {
      throw new DecodeError('OVERSIZED', `append.entries: more than ${limits.entriesPerMessageMax} entries`, {
        field: 'append.entries',
        max: limits.entriesPerMessageMax,
      })
    }
    if (blob.length - offset < entryHeaderBytes) {
      throw new DecodeError('TRUNCATED', `append.entries[${position}]: header ends early`, {
        field: `append.entries[${position}]`,
      })
    }
    const code = view.getUint8(offset)
    const termHigh = view.getUint32(offset + 1)
    const entryTerm = termHigh * twoTo32 + view.getUint32(offset + 5)
    const length = view.getUint32(offset + 9)
    offset += entryHeaderBytes
    if (code >= kindsByCode.length) throw invalid(position, 'kind', `unknown kind code ${code}`)
    if (termHigh > termHighMax) throw invalid(position, 'term', 'beyond 2^53')
    if (entryTerm < previousTerm || entryTerm > term || entryTerm === 0) {
      throw invalid(position, 'term', 'terms must not decrease nor exceed the message term')
    }
    if (length > limits.entryBytesMax) {
      throw new DecodeError(
        'OVERSIZED',
        `append.entries[${position}].data: ${length} bytes exceed ${limits.entryBytesMax}`,
        { field: `append.entries[${position}].data`, max: limits.entryBytesMax },
      )
    }
    if (length > blob.length - offset) {
      throw new DecodeError('TRUNCATED', `append.entries[${position}].data: ends early`, {
        field: `append.entries[${position}].data`,
      })
    }
    const kind = kindsByCode[code]!
    if (kind === 'noop' && length !== 0) throw invalid(position, 'data', 'a noop entry carries no data')
    const data = blob.subarray(offset, offset + length)
    offset += length
    if (kind === 'config') {
      if (length > limits.membershipBytesMax) throw invalid(position, 'data', 'membership too large')
      decodeMembership(data, `append.entries[${position}].data`)
    }
    const index = prevIndex + position + 1
    if (index > Number.MAX_SAFE_INTEGER) throw invalid(position, 'index', 'beyond 2^53')
    previousTerm = entryTerm
    entries.push({ index, term: entryTerm, kind, data })
  }
  return entries
}

function invalid(position: number, field: string, why: string): DecodeError {
  const path = `append.entries[${position}].${field}`
  return new DecodeError('INVALID_FIELD', `${path}: ${why}`, { field: path })
}
