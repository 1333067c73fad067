import { DecodeError } from '@socketcloud/core'

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
 * encode and decode, and the snapshot is taken inside the consensus loop.
 */
export function encodeRows(rows: readonly KeyRow[]): Uint8Array {
  let buffer = new Uint8Array(64 * 1024)
  let offset = 0
  const writeVarint = (value: number): void => {
    while (value >= 0x80) {
      buffer[offset++] = (value % 0x80) | 0x80
      value = Math.floor(value / 0x80)
    }
    buffer[offset++] = value
  }
  writeVarint(rows.length)
  for (const row of rows) {
    const { key, value } = row
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    const room = VARINT_BYTES_MAX * 5 + key.length * 3 + value.length
    if (offset + room > buffer.length) {
      const grown = new Uint8Array(Math.max(buffer.length * 2, offset + room))
      grown.set(buffer.subarray(0, offset))
      buffer = grown
    }
    writeKey(key)
    writeVarint(value.length)
    buffer.set(value, offset)
    offset += value.length
    writeVarint(row.createRevision)
    writeVarint(row.modRevision)
    writeVarint(row.version)
  }
  return buffer.slice(0, offset)

  function writeKey(key: string): void {
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
        offset += 1 + key.length
        return
      }
    }
    const length = encoder.encodeInto(key, buffer.subarray(offset + VARINT_BYTES_MAX)).written
    writeVarint(length)
    offset += encoder.encodeInto(key, buffer.subarray(offset)).written
  }
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
