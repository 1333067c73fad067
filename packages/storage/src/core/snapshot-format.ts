import type { Snapshot } from '@socketcloud/core'
import { BytesInParts, DecodeError, partsOf } from '@socketcloud/core'
import { crc32c } from '@node-rs/crc32'
import { ByteReader, ByteWriter } from './byte-writer'

/**
 * Snapshot file layout:
 *
 *   u32 magic "SCSN"   u8 version   u32 CRC32C of everything after this field
 *   u64 index   u64 term   u32 membership length, membership   u64 data length, data
 *
 * The lengths must account for every byte, so a truncated file fails even if its CRC happened to
 * match.
 */
const SNAPSHOT_MAGIC = 0x5343534e
export const SNAPSHOT_FORMAT_VERSION = 1
const CHECKSUMMED_FROM = 9

/**
 * The file's bytes as pieces: a header (everything up to the data) and the data's own pieces, so a
 * snapshot held in pieces is written without ever being joined into one buffer. The checksum runs
 * over the pieces in order.
 */
export function encodeSnapshot(snapshot: Snapshot): BytesInParts {
  const data = snapshot.data
  const writer = new ByteWriter(64 + snapshot.meta.membership.length)
  writer.u32(SNAPSHOT_MAGIC).u8(SNAPSHOT_FORMAT_VERSION).u32(0)
  writer.u64(snapshot.meta.index).u64(snapshot.meta.term)
  writer.u32(snapshot.meta.membership.length).raw(snapshot.meta.membership)
  writer.u64(data.length)
  const header = writer.finish()
  const dataParts = partsOf(data)
  let checksum = crc32c(header.subarray(CHECKSUMMED_FROM))
  for (const part of dataParts) checksum = crc32c(part, checksum)
  new DataView(header.buffer, header.byteOffset, header.byteLength).setUint32(5, checksum >>> 0, true)
  return new BytesInParts([header, ...dataParts])
}

/** Throws DecodeError unless `bytes` is one whole, intact snapshot file. */
export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  const reader = new ByteReader(bytes, 'snapshot')
  if (reader.u32() !== SNAPSHOT_MAGIC) throw new DecodeError('MALFORMED', 'snapshot: bad magic')
  const version = reader.u8()
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    throw new DecodeError('UNSUPPORTED_VERSION', `snapshot format version ${version}`, { version })
  }
  const expected = reader.u32()
  if (crc32c(bytes.subarray(CHECKSUMMED_FROM)) >>> 0 !== expected) {
    throw new DecodeError('MALFORMED', 'snapshot: checksum mismatch')
  }
  const index = reader.u64()
  const term = reader.u64()
  const membership = reader.bytesOf(reader.u32())
  const data = reader.bytesOf(reader.u64())
  reader.expectEnd()
  return { meta: { index, term, membership }, data }
}
