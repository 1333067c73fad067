import { NODE_ID_BYTES, assert } from '@socketcloud/core'

/** Bits in an id, and so the number of k-buckets a routing table can have. */
export const ID_BITS = NODE_ID_BYTES * 8

/**
 * Compares the XOR distances of `a` and `b` to `target` without allocating: negative when `a` is
 * closer, positive when `b` is, 0 when they are the same id. Kademlia's whole geometry rests on this.
 */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < NODE_ID_BYTES; i++) {
    const difference = (a[i]! ^ target[i]!) - (b[i]! ^ target[i]!)
    if (difference !== 0) return difference
  }
  return 0
}

/** XOR distance as bytes (big-endian), for tests and display. */
export function xorDistance(a: Uint8Array, b: Uint8Array): Uint8Array {
  assert(a.length === NODE_ID_BYTES && b.length === NODE_ID_BYTES, 'ids must be 32 bytes')
  const out = new Uint8Array(NODE_ID_BYTES)
  for (let i = 0; i < NODE_ID_BYTES; i++) out[i] = a[i]! ^ b[i]!
  return out
}

/**
 * Length of the common bit prefix of two ids, in [0, 256]. A contact whose id shares `p` leading bits
 * with ours lives in bucket `p`: bucket 0 holds the far half of the id space, bucket 255 our sibling.
 * 256 means the ids are equal.
 */
export function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < NODE_ID_BYTES; i++) {
    const x = a[i]! ^ b[i]!
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return ID_BITS
}

/**
 * A random id sharing exactly `prefixLength` leading bits with `base`: a target inside bucket
 * `prefixLength`, used to refresh it. `randomByte` supplies the seeded randomness.
 */
export function randomIdInBucket(
  base: Uint8Array,
  prefixLength: number,
  randomByte: () => number,
): Uint8Array {
  assert(Number.isInteger(prefixLength) && prefixLength >= 0 && prefixLength < ID_BITS, 'bucket out of range')
  const out = new Uint8Array(NODE_ID_BYTES)
  for (let i = 0; i < NODE_ID_BYTES; i++) out[i] = randomByte() & 0xff
  const byteIndex = prefixLength >>> 3
  const bitInByte = prefixLength & 7
  for (let i = 0; i < byteIndex; i++) out[i] = base[i]!
  // Bits before the split come from `base`, the split bit is flipped, the rest stay random.
  const keepMask = (0xff << (8 - bitInByte)) & 0xff
  const splitBit = 0x80 >>> bitInByte
  const baseByte = base[byteIndex]!
  out[byteIndex] = (baseByte & keepMask) | (~baseByte & splitBit) | (out[byteIndex]! & (splitBit - 1))
  assert(commonPrefixLength(base, out) === prefixLength, 'random id must land in the bucket asked for')
  return out
}
