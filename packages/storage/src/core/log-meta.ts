import { DecodeError } from '@socketcloud/core'
import { crc32c } from '@node-rs/crc32'
import { ByteReader, ByteWriter } from './byte-writer'
import type { CompactionFloor } from './log-replay'

/**
 * The log's meta file holds the compaction point that was durable when segment files were last
 * deleted. Replay starts from it, so deleting segments can never leave entries that the remaining
 * segments refer to but no longer hold. Layout: u32 magic "SCLM", u8 version, u32 CRC32C of the rest,
 * u64 index, u64 term.
 */
const META_MAGIC = 0x53434c4d
const META_VERSION = 1

export function encodeLogMeta(floor: CompactionFloor): Uint8Array {
  const bytes = new ByteWriter()
    .u32(META_MAGIC)
    .u8(META_VERSION)
    .u32(0)
    .u64(floor.index)
    .u64(floor.term)
    .finish()
  new DataView(bytes.buffer).setUint32(5, crc32c(bytes.subarray(9)) >>> 0, true)
  return bytes
}

export function decodeLogMeta(bytes: Uint8Array): CompactionFloor {
  const reader = new ByteReader(bytes, 'log meta')
  if (reader.u32() !== META_MAGIC) throw new DecodeError('MALFORMED', 'log meta: bad magic')
  if (reader.u8() !== META_VERSION) throw new DecodeError('UNSUPPORTED_VERSION', 'log meta: unknown version')
  const expected = reader.u32()
  if (crc32c(bytes.subarray(9)) >>> 0 !== expected)
    throw new DecodeError('MALFORMED', 'log meta: checksum mismatch')
  const index = reader.u64()
  const term = reader.u64()
  reader.expectEnd()
  return { index, term }
}
