/**
 * Reads the message type out of a core `Codec` envelope (`[version, type, sender, payload]` in
 * MessagePack) without decoding the rest, so one transport can be shared by several protocols and
 * each message handed to the one protocol that owns it. Returns undefined for anything that does not
 * start like an envelope; the protocol that receives it then refuses it with a typed error.
 */
export function peekEnvelopeType(bytes: Uint8Array): string | undefined {
  if (bytes.length < 3 || bytes[0] !== 0x94) return undefined
  let offset = 1
  const version = bytes[offset]!
  if (version <= 0x7f) offset += 1
  else if (version === 0xcc) offset += 2
  else return undefined
  const head = bytes[offset]
  if (head === undefined) return undefined
  let length: number
  if (head >= 0xa0 && head <= 0xbf) {
    length = head - 0xa0
    offset += 1
  } else if (head === 0xd9 && offset + 1 < bytes.length) {
    length = bytes[offset + 1]!
    offset += 2
  } else {
    return undefined
  }
  if (offset + length > bytes.length) return undefined
  let type = ''
  for (let i = offset; i < offset + length; i++) {
    const code = bytes[i]!
    // Protocol type names are ASCII; anything else is not one of ours.
    if (code < 0x20 || code > 0x7e) return undefined
    type += String.fromCharCode(code)
  }
  return type
}
