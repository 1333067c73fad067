import { assert } from '@socketcloud/core'

/**
 * RFC 6455 framing for what a WebSocket client sends: one final, masked, binary frame per message.
 * The `ws` package frames and writes every message on its own (an allocation and a socket write per
 * message, masking a byte at a time); this writes a whole flush of messages into a few coalesced
 * buffers and masks four bytes at a time. Pure: the masking keys come from the caller, which draws
 * them from a strong random source as RFC 6455 section 5.3 requires.
 */

const OPCODE_BINARY_FINAL = 0x82
const MASK_BIT = 0x80
const LENGTH_7_MAX = 125
const LENGTH_16_MARK = 126
const LENGTH_64_MARK = 127
const MASK_KEY_BYTES = 4

/** Header bytes (length and masking key included) of a client frame carrying `payloadBytes`. */
export function clientFrameHeaderBytes(payloadBytes: number): number {
  if (payloadBytes <= LENGTH_7_MAX) return 2 + MASK_KEY_BYTES
  if (payloadBytes <= 0xffff) return 4 + MASK_KEY_BYTES
  return 10 + MASK_KEY_BYTES
}

/** Wire bytes of a client frame carrying `payloadBytes`. */
export function clientFrameBytes(payloadBytes: number): number {
  return clientFrameHeaderBytes(payloadBytes) + payloadBytes
}

/**
 * Writes one client frame for `payload` at `offset` of `target`, masked with `maskKey` (the four key
 * bytes as a little-endian uint32), and returns the offset after it. `payload` is only read.
 */
export function writeClientFrame(
  target: Uint8Array,
  offset: number,
  payload: Uint8Array,
  maskKey: number,
): number {
  const length = payload.length
  assert(length <= Number.MAX_SAFE_INTEGER, 'payload length fits the 64-bit length field')
  assert(offset + clientFrameBytes(length) <= target.length, 'client frame must fit the target')
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength)
  let at = offset
  target[at++] = OPCODE_BINARY_FINAL
  if (length <= LENGTH_7_MAX) {
    target[at++] = MASK_BIT | length
  } else if (length <= 0xffff) {
    target[at++] = MASK_BIT | LENGTH_16_MARK
    view.setUint16(at, length)
    at += 2
  } else {
    target[at++] = MASK_BIT | LENGTH_64_MARK
    view.setUint32(at, Math.floor(length / 0x1_0000_0000))
    view.setUint32(at + 4, length >>> 0)
    at += 8
  }
  view.setUint32(at, maskKey, true)
  at += MASK_KEY_BYTES
  maskInto(target, view, at, payload, maskKey)
  return at + length
}

/**
 * target[at + i] = payload[i] ^ key[i % 4], four bytes per step: the key's byte i % 4 is byte i % 4
 * of `maskKey` read little-endian, so little-endian words line up with it at every multiple of four.
 */
function maskInto(
  target: Uint8Array,
  view: DataView,
  at: number,
  payload: Uint8Array,
  maskKey: number,
): void {
  const length = payload.length
  const words = length & ~3
  const source = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
  let index = 0
  for (; index < words; index += 4) {
    view.setUint32(at + index, source.getUint32(index, true) ^ maskKey, true)
  }
  for (; index < length; index++) {
    target[at + index] = payload[index]! ^ ((maskKey >>> ((index & 3) * 8)) & 0xff)
  }
}
