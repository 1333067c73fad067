import {
  DecodeError,
  NODE_ID_BYTES,
  expectArray,
  expectBytes,
  expectRecord,
  expectString,
  expectUint,
  optional,
} from '@socketcloud/core'
import type { Codec, NodeId } from '@socketcloud/core'
import type { Contact } from './contact'
import type { NodeIdCache } from './node-id-cache'
import type { DhtRecord } from './record'
import { RECORD_KEY_BYTES } from './record'

/** Request ids are 32-bit: enough to match replies, small on the wire. */
export const REQUEST_ID_MAX = 0xffff_ffff
const PUBLIC_KEY_BYTES_MAX = 256
const SIGNATURE_BYTES_MAX = 512
const ALGORITHM_LENGTH_MAX = 32
const STORE_REASON_LENGTH_MAX = 64

export type DhtRequest =
  | { readonly type: 'ping'; readonly requestId: number; readonly addresses: readonly string[] }
  | {
      readonly type: 'find-node'
      readonly requestId: number
      readonly addresses: readonly string[]
      readonly target: Uint8Array
    }
  | {
      readonly type: 'find-value'
      readonly requestId: number
      readonly addresses: readonly string[]
      readonly key: Uint8Array
    }
  | {
      readonly type: 'store'
      readonly requestId: number
      readonly addresses: readonly string[]
      readonly record: DhtRecord
    }

export type DhtReply =
  | { readonly type: 'pong'; readonly requestId: number }
  | { readonly type: 'nodes'; readonly requestId: number; readonly contacts: readonly Contact[] }
  | { readonly type: 'value'; readonly requestId: number; readonly record: DhtRecord }
  | { readonly type: 'stored'; readonly requestId: number; readonly ok: boolean; readonly reason?: string }

export type DhtMessage = DhtRequest | DhtReply
export type DhtMessageType = DhtMessage['type']

const REQUEST_TYPES: ReadonlySet<string> = new Set(['ping', 'find-node', 'find-value', 'store'])

export function isRequest(message: DhtMessage): message is DhtRequest {
  return REQUEST_TYPES.has(message.type)
}

/** The reply type each request expects: any other reply to its id is refused as unsolicited. */
export const EXPECTED_REPLIES: Readonly<Record<DhtRequest['type'], readonly DhtReply['type'][]>> = {
  ping: ['pong'],
  'find-node': ['nodes'],
  'find-value': ['value', 'nodes'],
  store: ['stored'],
}

const WIRE_PREFIX = 'dht.'

/** Limits the decoder enforces on fields (from the node's options). */
export interface MessageLimits {
  readonly k: number
  readonly addressesPerContactMax: number
  readonly addressLengthMax: number
  readonly recordValueBytesMax: number
  /** Where contact ids are built; reusing known NodeIds keeps replies cheap to decode. */
  readonly ids: NodeIdCache
}

export function encodeDhtMessage(codec: Codec, sender: NodeId, message: DhtMessage): Uint8Array {
  const { type, ...payload } = message
  const wire: Record<string, unknown> = { ...payload }
  if (message.type === 'nodes') {
    // Ids travel as one byte string (n × 32) and addresses as a parallel list: far cheaper to encode
    // and decode than a map per contact, and the answer to every lookup request is one of these.
    const ids = new Uint8Array(message.contacts.length * NODE_ID_BYTES)
    message.contacts.forEach((contact, i) => ids.set(contact.id.bytes, i * NODE_ID_BYTES))
    wire.contacts = ids
    wire.addresses = message.contacts.map((contact) => contact.addresses)
  }
  return codec.encode({ type: WIRE_PREFIX + type, sender, payload: wire })
}

/**
 * Decodes and validates one DHT message. Throws DecodeError (code and field path in its context) for
 * anything malformed, oversized or of an unknown type; nothing else escapes.
 */
export function decodeDhtMessage(
  codec: Codec,
  bytes: Uint8Array,
  limits: MessageLimits,
): { sender: NodeId; message: DhtMessage } {
  const envelope = codec.decode(bytes)
  if (!envelope.type.startsWith(WIRE_PREFIX)) {
    throw new DecodeError('UNKNOWN_TYPE', `not a DHT message: ${envelope.type}`, { type: envelope.type })
  }
  const type = envelope.type.slice(WIRE_PREFIX.length)
  const body = expectRecord(envelope.payload, type)
  const requestId = expectUint(body.requestId, `${type}.requestId`, REQUEST_ID_MAX)
  const addresses = (): string[] => readAddresses(body.addresses, `${type}.addresses`, limits)
  let message: DhtMessage
  switch (type) {
    case 'ping':
      message = { type, requestId, addresses: addresses() }
      break
    case 'find-node':
      message = { type, requestId, addresses: addresses(), target: readId(body.target, 'find-node.target') }
      break
    case 'find-value':
      message = { type, requestId, addresses: addresses(), key: readId(body.key, 'find-value.key') }
      break
    case 'store':
      message = {
        type,
        requestId,
        addresses: addresses(),
        record: readRecord(body.record, 'store.record', limits),
      }
      break
    case 'pong':
      message = { type, requestId }
      break
    case 'nodes': {
      const ids = expectBytes(body.contacts, 'nodes.contacts', limits.k * NODE_ID_BYTES)
      const count = ids.length / NODE_ID_BYTES
      if (!Number.isInteger(count)) {
        throw new DecodeError('INVALID_FIELD', 'nodes.contacts: not a whole number of ids', {
          field: 'nodes.contacts',
        })
      }
      const lists = expectArray(body.addresses, 'nodes.addresses', count)
      if (lists.length !== count) {
        throw new DecodeError('INVALID_FIELD', 'nodes.addresses: one list per contact', {
          field: 'nodes.addresses',
        })
      }
      const contacts: Contact[] = []
      for (let i = 0; i < count; i++) {
        contacts.push({
          id: limits.ids.fromBytes(ids.subarray(i * NODE_ID_BYTES, (i + 1) * NODE_ID_BYTES)),
          addresses: readAddresses(lists[i], `nodes.addresses[${i}]`, limits),
        })
      }
      message = { type, requestId, contacts }
      break
    }
    case 'value':
      message = { type, requestId, record: readRecord(body.record, 'value.record', limits) }
      break
    case 'stored': {
      const ok = body.ok
      if (typeof ok !== 'boolean') {
        throw new DecodeError('INVALID_FIELD', 'stored.ok: expected a boolean', { field: 'stored.ok' })
      }
      const reason = optional(body.reason, (value) =>
        expectString(value, 'stored.reason', STORE_REASON_LENGTH_MAX),
      )
      message = reason === undefined ? { type, requestId, ok } : { type, requestId, ok, reason }
      break
    }
    default:
      throw new DecodeError('UNKNOWN_TYPE', `unknown DHT message type ${type}`, { type: envelope.type })
  }
  return { sender: envelope.sender, message }
}

function readId(value: unknown, path: string): Uint8Array {
  return Uint8Array.from(expectBytes(value, path, NODE_ID_BYTES, NODE_ID_BYTES))
}

function readAddresses(value: unknown, path: string, limits: MessageLimits): string[] {
  const list = expectArray(value, path, limits.addressesPerContactMax)
  return list.map((item, i) => expectString(item, `${path}[${i}]`, limits.addressLengthMax))
}

function readRecord(value: unknown, path: string, limits: MessageLimits): DhtRecord {
  const body = expectRecord(value, path)
  return {
    key: Uint8Array.from(expectBytes(body.key, `${path}.key`, RECORD_KEY_BYTES, RECORD_KEY_BYTES)),
    value: Uint8Array.from(expectBytes(body.value, `${path}.value`, limits.recordValueBytesMax)),
    sequence: expectUint(body.sequence, `${path}.sequence`),
    expiresAtMs: expectUint(body.expiresAtMs, `${path}.expiresAtMs`),
    algorithm: expectString(body.algorithm, `${path}.algorithm`, ALGORITHM_LENGTH_MAX),
    publicKey: Uint8Array.from(expectBytes(body.publicKey, `${path}.publicKey`, PUBLIC_KEY_BYTES_MAX, 1)),
    signature: Uint8Array.from(expectBytes(body.signature, `${path}.signature`, SIGNATURE_BYTES_MAX, 1)),
  }
}
