import { BytesInParts, DecodeError } from '@socketcloud/core'

/** One key as the key-value store keeps it (records are immutable: a change replaces the record). */
export interface KeyRow {
  readonly key: string
  readonly value: Uint8Array
  readonly createRevision: number
  readonly modRevision: number
  readonly version: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
/** Unsigned LEB128 of a safe integer takes at most 8 bytes. */
const VARINT_BYTES_MAX = 8

/**
 * The rows of a key-value snapshot as one byte string, in key order: a varint row count, then per key a varint key length,
 * the UTF-8 key, a varint value length, the value, then createRevision, modRevision and version as
 * varints (unsigned LEB128). One buffer instead of an array per key is several times faster to
 * encode and decode.
 */
export function encodeRows(rows: readonly KeyRow[]): Uint8Array {
  let position = 0
  return new StepwiseRowsEncoder(rows.length, () => rows[position++]!).step(rows.length)!.toBytes()
}

/** Size of the pieces `StepwiseRowsEncoder` fills (a larger row gets a piece of its own size). */
const PIECE_BYTES = 1024 * 1024

/**
 * The rows of `encodeRows`, produced a slice at a time and in pieces: `step(rows)` encodes at most
 * `rows` more rows (`nextRow` gives them in key order) and returns the pieces after the last one.
 * One walk, no sizing pass: each piece is a fresh 1 MiB buffer, so no step allocates the whole
 * output at once. The key-value store encodes both its snapshots and its captures with it.
 */
export class StepwiseRowsEncoder {
  private position = 0
  private readonly pieces: Uint8Array[] = []
  private piece: Uint8Array
  private offset: number

  constructor(
    private readonly count: number,
    private readonly nextRow: () => KeyRow,
  ) {
    this.piece = new Uint8Array(Math.min(PIECE_BYTES, VARINT_BYTES_MAX + 64 * count))
    this.offset = writeVarint(this.piece, 0, count)
  }

  /** Encodes up to `rows` rows; returns the encoded rows when every row is in, else null. */
  step(rows: number): BytesInParts | null {
    const end = Math.min(this.count, this.position + rows)
    for (; this.position < end; this.position++) {
      const row = this.nextRow()
      const length = rowLength(row)
      if (this.offset + length > this.piece.length) {
        this.pieces.push(this.piece.subarray(0, this.offset))
        this.piece = new Uint8Array(Math.max(PIECE_BYTES, length))
        this.offset = 0
      }
      const written = writeRow(this.piece, this.offset, row)
      if (written - this.offset !== length)
        throw new RangeError('StepwiseRowsEncoder: a row encoded to an unexpected length')
      this.offset = written
    }
    if (this.position < this.count) return null
    this.pieces.push(this.piece.subarray(0, this.offset))
    return new BytesInParts(this.pieces)
  }
}

function rowLength(row: KeyRow): number {
  const keyBytes = utf8Length(row.key)
  return (
    varintLength(keyBytes) +
    keyBytes +
    varintLength(row.value.length) +
    row.value.length +
    varintLength(row.createRevision) +
    varintLength(row.modRevision) +
    varintLength(row.version)
  )
}

function writeRow(buffer: Uint8Array, offset: number, row: KeyRow): number {
  const { key, value } = row
  offset = writeKey(buffer, offset, key)
  offset = writeVarint(buffer, offset, value.length)
  if (value.length <= 32) {
    // A short copy by hand beats TypedArray#set's call overhead.
    for (let i = 0; i < value.length; i++) buffer[offset + i] = value[i]!
  } else {
    buffer.set(value, offset)
  }
  offset += value.length
  offset = writeVarint(buffer, offset, row.createRevision)
  offset = writeVarint(buffer, offset, row.modRevision)
  return writeVarint(buffer, offset, row.version)
}

function varintLength(value: number): number {
  let length = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    length++
  }
  return length
}

function writeVarint(buffer: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    buffer[offset++] = (value % 0x80) | 0x80
    value = Math.floor(value / 0x80)
  }
  buffer[offset++] = value
  return offset
}

/** UTF-8 length of `key` (lone surrogates count as U+FFFD, as TextEncoder writes them). */
function utf8Length(key: string): number {
  let length = key.length
  for (let i = 0; i < key.length; i++) {
    const unit = key.charCodeAt(i)
    if (unit < 0x80) continue
    if (unit < 0x800) {
      length += 1
    } else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < key.length) {
      const next = key.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        // A surrogate pair: two code units, four bytes.
        length += 2
        i++
      } else {
        length += 2
      }
    } else {
      length += 2
    }
  }
  return length
}

function writeKey(buffer: Uint8Array, offset: number, key: string): number {
  // Most keys are short ASCII: copy the code units directly, without a call into the encoder.
  if (key.length < 0x80) {
    let ascii = true
    for (let i = 0; i < key.length; i++) {
      const unit = key.charCodeAt(i)
      if (unit >= 0x80) {
        ascii = false
        break
      }
      buffer[offset + 1 + i] = unit
    }
    if (ascii) {
      buffer[offset] = key.length
      return offset + 1 + key.length
    }
  }
  const length = utf8Length(key)
  offset = writeVarint(buffer, offset, length)
  const written = encoder.encodeInto(key, buffer.subarray(offset, offset + length)).written
  if (written !== length) throw new RangeError('snapshot rows: a key encoded to an unexpected length')
  return offset + length
}

export interface RowLimits {
  /** Checks a decoded key (length, forbidden characters) and returns it. */
  readonly checkKey: (key: string) => string
  readonly valueBytesMax: number
  /** The snapshot's global revision: no key's revisions may exceed it. */
  readonly revision: number
}

/** Decodes and validates `encodeRows` output; keys must be strictly increasing. Throws DecodeError. */
export function decodeRows(bytes: Uint8Array, limits: RowLimits): KeyRow[] {
  const rows: KeyRow[] = []
  let offset = 0
  const fail = (reason: string): never => {
    throw new DecodeError('MALFORMED', `kv snapshot rows: ${reason}`, { offset, row: rows.length })
  }
  const readVarint = (): number => {
    let value = 0
    let scale = 1
    for (let read = 0; read < VARINT_BYTES_MAX; read++) {
      if (offset >= bytes.length) return fail('truncated number')
      const byte = bytes[offset++]!
      value += (byte & 0x7f) * scale
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) return fail('number out of range')
        if (byte === 0 && read > 0) return fail('overlong number')
        return value
      }
      scale *= 0x80
    }
    return fail('number too long')
  }
  const take = (length: number): Uint8Array => {
    if (length > bytes.length - offset) return fail('truncated row')
    const slice = bytes.subarray(offset, offset + length)
    offset += length
    return slice
  }
  let previous: string | null = null
  const count = readVarint()
  // Each row takes at least 5 bytes, so a count the input cannot hold is refused before any work.
  if (count > (bytes.length - offset) / 5) fail(`${count} rows cannot fit in ${bytes.length} bytes`)
  while (rows.length < count) {
    let key: string
    try {
      key = decoder.decode(take(readVarint()))
    } catch (thrown) {
      if (thrown instanceof DecodeError) throw thrown
      return fail('key is not UTF-8')
    }
    limits.checkKey(key)
    if (previous !== null && !(previous < key)) fail('keys are not strictly sorted')
    previous = key
    const valueLength = readVarint()
    if (valueLength > limits.valueBytesMax) fail(`value longer than ${limits.valueBytesMax} bytes`)
    const value = take(valueLength).slice()
    const createRevision = readVarint()
    const modRevision = readVarint()
    const version = readVarint()
    if (createRevision > limits.revision || modRevision > limits.revision) {
      fail('a revision beyond the snapshot revision')
    }
    rows.push({ key, value, createRevision, modRevision, version })
  }
  if (offset !== bytes.length) fail('trailing bytes')
  return rows
}
