import { DecodeError, utf8Encode } from '@socketcloud/core'

/** A string whose UTF-8 encoding is at most `bytesMax` bytes (limits are in bytes, as on the wire). */
export function expectBoundedString(value: unknown, path: string, bytesMax: number): string {
  if (typeof value !== 'string') {
    throw new DecodeError('INVALID_FIELD', `${path}: expected a string`, { field: path })
  }
  // Each UTF-16 code unit is at most 3 UTF-8 bytes, so short strings skip the encoding.
  if (value.length * 3 > bytesMax && utf8Encode(value).length > bytesMax) {
    throw new DecodeError('OVERSIZED', `${path}: longer than ${bytesMax} bytes`, {
      field: path,
      max: bytesMax,
    })
  }
  return value
}

/** Code-unit order, the same on every replica and platform (never locale-dependent). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Index of the first element of sorted `keys` that is >= `key`. */
export function lowerBound(keys: readonly string[], key: string): number {
  let low = 0
  let high = keys.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (keys[middle]! < key) low = middle + 1
    else high = middle
  }
  return low
}
