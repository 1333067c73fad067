const HEX_DIGITS = '0123456789abcdef'
/** Both hex digits of every byte value: one string append per byte instead of two. */
const HEX_PAIRS = Array.from({ length: 256 }, (_, byte) => HEX_DIGITS[byte >> 4]! + HEX_DIGITS[byte & 15]!)

/** Lower-case hex of a byte array. */
export function bytesToHex(bytes: Uint8Array): string {
  let out = ''
  for (let position = 0; position < bytes.length; position++) out += HEX_PAIRS[bytes[position]!]!
  return out
}

/** Parses hex (either case); returns undefined for odd length or non-hex characters. */
export function hexToBytes(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0) return undefined
  if (!/^[0-9a-fA-F]*$/.test(hex)) return undefined
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder('utf-8', { fatal: true })
export function utf8Encode(text: string): Uint8Array {
  return textEncoder.encode(text)
}
/** Strict UTF-8 decoding: throws TypeError on invalid sequences. */
export function utf8Decode(bytes: Uint8Array): string {
  return textDecoder.decode(bytes)
}
