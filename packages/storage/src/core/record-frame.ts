import { crc32c } from '@node-rs/crc32'

/**
 * The on-disk frame every log and snapshot record shares:
 *
 *   u32 LE  length   bytes of (type + payload), at least 1
 *   u32 LE  crc      CRC32C over the length field, then type and payload
 *   u8      type
 *   ...     payload
 *
 * The checksum covers the length too, so a torn or flipped length cannot send the reader to a
 * plausible-looking record elsewhere in the file.
 */
export const FRAME_HEADER_BYTES = 8

export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const frame = allocateFrame(type, payload.length)
  frame.set(payload, FRAME_HEADER_BYTES + 1)
  return sealFrame(frame)
}

/** A frame of `payloadBytes` whose payload (from FRAME_PAYLOAD_OFFSET) the caller fills before `sealFrame`. */
export function allocateFrame(type: number, payloadBytes: number): Uint8Array {
  const frame = new Uint8Array(FRAME_PAYLOAD_OFFSET + payloadBytes)
  new DataView(frame.buffer).setUint32(0, 1 + payloadBytes, true)
  frame[FRAME_HEADER_BYTES] = type
  return frame
}

export const FRAME_PAYLOAD_OFFSET = FRAME_HEADER_BYTES + 1

/** Writes the checksum of a filled frame from `allocateFrame`. */
export function sealFrame(frame: Uint8Array): Uint8Array {
  const length = frame.length - FRAME_HEADER_BYTES
  new DataView(frame.buffer, frame.byteOffset).setUint32(4, frameChecksum(frame, length), true)
  return frame
}

function frameChecksum(frame: Uint8Array, length: number): number {
  const lengthBytes = frame.subarray(0, 4)
  const body = frame.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length)
  return crc32c(body, crc32c(lengthBytes)) >>> 0
}

export type FrameRead =
  | { readonly kind: 'record'; readonly type: number; readonly payload: Uint8Array; readonly next: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'damaged'; readonly reason: string }

/**
 * Reads the frame at `offset`. `end` means the bytes stop exactly at a frame boundary; `damaged`
 * means what follows is not a whole, intact frame (a torn write, garbage or bit rot) and nothing from
 * `offset` on may be trusted.
 */
export function readFrame(bytes: Uint8Array, offset: number, recordBytesMax: number): FrameRead {
  const remaining = bytes.length - offset
  if (remaining === 0) return { kind: 'end' }
  if (remaining < FRAME_HEADER_BYTES) return { kind: 'damaged', reason: 'partial frame header' }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, FRAME_HEADER_BYTES)
  const length = view.getUint32(0, true)
  const expected = view.getUint32(4, true)
  if (length < 1 || length > recordBytesMax + 1) {
    return { kind: 'damaged', reason: `implausible record length ${length}` }
  }
  if (remaining < FRAME_HEADER_BYTES + length) return { kind: 'damaged', reason: 'partial record' }
  const frame = bytes.subarray(offset, offset + FRAME_HEADER_BYTES + length)
  if (frameChecksum(frame, length) !== expected) return { kind: 'damaged', reason: 'checksum mismatch' }
  return {
    kind: 'record',
    type: frame[FRAME_HEADER_BYTES]!,
    payload: frame.subarray(FRAME_HEADER_BYTES + 1),
    next: offset + FRAME_HEADER_BYTES + length,
  }
}
