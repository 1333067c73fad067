import {
  DecodeError,
  NODE_ID_BYTES,
  NodeId,
  assert,
  expectArray,
  expectBytes,
  expectOneOf,
  expectRecord,
  expectUint,
} from '@socketcloud/core'
import type { Codec } from '@socketcloud/core'

/** A member's state in a view. `left` is a graceful exit; `dead` was decided by suspicion timing out. */
export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left'
export const MEMBER_STATUSES: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left']

/**
 * One gossiped fact about a member. Incarnation numbers are owned by the member itself: only it
 * raises its incarnation, which is how it refutes a suspicion (SWIM, Das, Gupta and Motivala 2002).
 * `upNumber` orders members by age for the keep-oldest strategy (lower is older).
 */
export interface MemberUpdate {
  readonly member: NodeId
  readonly status: MemberStatus
  readonly incarnation: number
  readonly upNumber: number
}

/** A heartbeat probe; the receiver answers with an `ack` carrying the same `seq`. */
export interface PingMessage {
  readonly type: 'ping'
  readonly seq: number
  readonly gossip: readonly MemberUpdate[]
}
export interface AckMessage {
  readonly type: 'ack'
  readonly seq: number
  readonly gossip: readonly MemberUpdate[]
}
/**
 * SWIM's indirect probe: "ping `target` for me". The receiver pings the target itself and, when the
 * target answers, sends the requester an `indirect-ack` with the requester's `seq`.
 */
export interface PingRequestMessage {
  readonly type: 'ping-req'
  readonly seq: number
  readonly target: NodeId
  readonly gossip: readonly MemberUpdate[]
}
/** `target` answered a ping made on the requester's behalf; `seq` is the requester's. */
export interface IndirectAckMessage {
  readonly type: 'indirect-ack'
  readonly seq: number
  readonly target: NodeId
  readonly gossip: readonly MemberUpdate[]
}
export type MembershipMessage = PingMessage | AckMessage | PingRequestMessage | IndirectAckMessage

/** Envelope message types (`<protocol>.<kind>`). */
export const MESSAGE_TYPES = Object.freeze({
  ping: 'fd.ping',
  ack: 'fd.ack',
  'ping-req': 'fd.ping-req',
  'indirect-ack': 'fd.indirect-ack',
} as const)
const TYPE_BY_ENVELOPE_TYPE = new Map<string, MembershipMessage['type']>(
  Object.entries(MESSAGE_TYPES).map(([kind, type]) => [type, kind as MembershipMessage['type']]),
)

/** Upper bound on gossip entries accepted in one message, whatever the sender's configuration. */
export const GOSSIP_UPDATES_DECODE_MAX = 256

/** Encodes a message into an envelope from `sender`. */
export function encodeMembershipMessage(
  codec: Codec,
  sender: NodeId,
  message: MembershipMessage,
): Uint8Array {
  assert(message.gossip.length <= GOSSIP_UPDATES_DECODE_MAX, 'gossip exceeds what any peer would accept')
  return codec.encode({
    type: MESSAGE_TYPES[message.type],
    sender,
    payload: {
      seq: message.seq,
      ...('target' in message ? { target: message.target.bytes } : {}),
      gossip: message.gossip.map((update) => [
        update.member.bytes,
        update.status,
        update.incarnation,
        update.upNumber,
      ]),
    },
  })
}

export interface DecodedMembershipMessage {
  readonly sender: NodeId
  readonly message: MembershipMessage
}

/**
 * Decodes and validates one envelope. Throws DecodeError (never anything else) for malformed bytes,
 * a foreign message type or an invalid field; callers count it and drop the message.
 */
export function decodeMembershipMessage(
  codec: Codec,
  bytes: Uint8Array,
  gossipUpdatesMax = GOSSIP_UPDATES_DECODE_MAX,
): DecodedMembershipMessage {
  const envelope = codec.decode(bytes)
  const type = TYPE_BY_ENVELOPE_TYPE.get(envelope.type)
  if (type === undefined) {
    throw new DecodeError('UNKNOWN_TYPE', `not a membership message: ${envelope.type}`, {
      type: envelope.type,
    })
  }
  const body = expectRecord(envelope.payload, type)
  const seq = expectUint(body['seq'], `${type}.seq`)
  const entries = expectArray(body['gossip'], `${type}.gossip`, gossipUpdatesMax)
  const gossip = entries.map((entry, index) => decodeUpdate(entry, `${type}.gossip[${index}]`))
  if (type === 'ping' || type === 'ack') return { sender: envelope.sender, message: { type, seq, gossip } }
  const target = NodeId.fromBytes(expectBytes(body['target'], `${type}.target`, NODE_ID_BYTES, NODE_ID_BYTES))
  return { sender: envelope.sender, message: { type, seq, target, gossip } }
}

function decodeUpdate(value: unknown, path: string): MemberUpdate {
  const fields = expectArray(value, path, 4)
  if (fields.length !== 4) {
    throw new DecodeError('INVALID_FIELD', `${path}: expected 4 fields, got ${fields.length}`, {
      field: path,
    })
  }
  const member = NodeId.fromBytes(expectBytes(fields[0], `${path}.member`, NODE_ID_BYTES, NODE_ID_BYTES))
  const status = expectOneOf(fields[1], `${path}.status`, MEMBER_STATUSES)
  const incarnation = expectUint(fields[2], `${path}.incarnation`)
  const upNumber = expectUint(fields[3], `${path}.upNumber`)
  return { member, status, incarnation, upNumber }
}
