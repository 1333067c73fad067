import { DecodeError, NODE_ID_BYTES, NodeId, assert } from '@socketcloud/core'

/**
 * UDP datagram layout: magic "SC" (2 bytes), version (1), kind (1), sender NodeId (32), payload.
 * The sender id is what lets a connectionless socket say who a message is from. It is NOT
 * authenticated: anyone who can reach the port can claim any id. Protocols that run over UDP (the
 * DHT) must sign what matters, or use a stream transport with the secure channel.
 */
export const DATAGRAM_MAGIC_0 = 0x53
export const DATAGRAM_MAGIC_1 = 0x43
export const DATAGRAM_VERSION = 1
export const DATAGRAM_HEADER_BYTES = 4 + NODE_ID_BYTES

export type DatagramKind = 'data' | 'hello' | 'hello-ack' | 'ping' | 'pong' | 'bye'
const KIND_CODES: Record<DatagramKind, number> = {
  data: 0,
  hello: 1,
  'hello-ack': 2,
  ping: 3,
  pong: 4,
  bye: 5,
}
const KINDS: readonly DatagramKind[] = ['data', 'hello', 'hello-ack', 'ping', 'pong', 'bye']

export interface Datagram {
  readonly kind: DatagramKind
  readonly sender: NodeId
  /** A view into the datagram; copy before keeping it past the receive callback. */
  readonly payload: Uint8Array
}

export function encodeDatagram(kind: DatagramKind, sender: NodeId, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(DATAGRAM_HEADER_BYTES + payload.length)
  out[0] = DATAGRAM_MAGIC_0
  out[1] = DATAGRAM_MAGIC_1
  out[2] = DATAGRAM_VERSION
  out[3] = KIND_CODES[kind]
  out.set(sender.bytes, 4)
  out.set(payload, DATAGRAM_HEADER_BYTES)
  return out
}

/** Parses and validates a datagram header; throws DecodeError on anything else. */
export function decodeDatagram(bytes: Uint8Array): Datagram {
  if (bytes.length < DATAGRAM_HEADER_BYTES) {
    throw new DecodeError('TRUNCATED', `datagram of ${bytes.length} bytes is shorter than its header`, {
      length: bytes.length,
    })
  }
  if (bytes[0] !== DATAGRAM_MAGIC_0 || bytes[1] !== DATAGRAM_MAGIC_1) {
    throw new DecodeError('MALFORMED', 'datagram does not start with the SocketCloud magic', {
      magic: [bytes[0], bytes[1]],
    })
  }
  if (bytes[2] !== DATAGRAM_VERSION) {
    throw new DecodeError('UNSUPPORTED_VERSION', `datagram version ${bytes[2]} is not supported`, {
      version: bytes[2],
    })
  }
  const kind = KINDS[bytes[3]!]
  if (kind === undefined) {
    throw new DecodeError('UNKNOWN_TYPE', `datagram kind ${bytes[3]} is unknown`, { kind: bytes[3] })
  }
  const sender = NodeId.fromBytes(bytes.subarray(4, DATAGRAM_HEADER_BYTES))
  const payload = bytes.subarray(DATAGRAM_HEADER_BYTES)
  assert(payload.length === bytes.length - DATAGRAM_HEADER_BYTES, 'payload is the rest of the datagram')
  return { kind, sender, payload }
}
