import { assert } from '@socketcloud/core'

/** Wrong key or nonce sizes are programming errors inside this package, never network input. */
export function requireLength(bytes: Uint8Array, length: number, what: string): void {
  assert(bytes instanceof Uint8Array, `${what} must be a Uint8Array`)
  assert(bytes.length === length, `${what} must be ${length} bytes, got ${bytes.length}`)
}

export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0
  for (const byte of bytes) acc |= byte
  return acc === 0
}
