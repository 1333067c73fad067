import {
  DecodeError,
  assert,
  expectArray,
  expectBytes,
  expectOneOf,
  expectString,
  expectUint,
  type Codec,
} from '@socketcloud/core'

/**
 * What the runtime puts in the `data` of a `command` log entry, around the application's bytes:
 * who proposed it and under which request id (so that replica can resolve the right promise), the
 * client session and sequence number (at-most-once application), and the wall time the leader
 * proposed with it (the log clock every replica uses for time-dependent decisions).
 *
 * Encoded as a MessagePack array, version first, so it stays small and a future layout is refused
 * rather than misread.
 */
export const ENTRY_ENVELOPE_VERSION = 1

export type EntryOperation = 'command' | 'read' | 'register'
const OPERATION_CODES: Record<EntryOperation, string> = { command: 'c', read: 'r', register: 's' }
const OPERATION_BY_CODE: Record<string, EntryOperation> = { c: 'command', r: 'read', s: 'register' }

export interface EntryEnvelope {
  readonly operation: EntryOperation
  /** Replica id of the node whose client asked; it resolves its own pending request on apply. */
  readonly proposer: string
  readonly requestId: number
  /** Leader-proposed wall time, ms since the epoch. */
  readonly timestampMs: number
  /** Present for `command`: the session it belongs to ('' otherwise). */
  readonly sessionId: string
  readonly sequence: number
  readonly acknowledgedBelow: number
  /** The command (for `command`) or the query (for `read`); empty for `register`. */
  readonly payload: Uint8Array
}

/** Longest replica id or session id accepted inside an entry. */
export const ENTRY_ID_LENGTH_MAX = 128

export function encodeEntryEnvelope(codec: Codec, envelope: EntryEnvelope): Uint8Array {
  assert(envelope.proposer.length > 0, 'entry proposer must be set')
  assert(envelope.operation !== 'command' || envelope.sessionId.length > 0, 'commands carry a session')
  return codec.encodeValue([
    ENTRY_ENVELOPE_VERSION,
    OPERATION_CODES[envelope.operation],
    envelope.proposer,
    envelope.requestId,
    envelope.timestampMs,
    envelope.sessionId,
    envelope.sequence,
    envelope.acknowledgedBelow,
    envelope.payload,
  ])
}

/** Validates committed entry data; throws DecodeError (the entry is then applied as a no-op). */
export function decodeEntryEnvelope(codec: Codec, data: Uint8Array, payloadBytesMax: number): EntryEnvelope {
  const fields = expectArray(codec.decodeValue(data), 'entry', 9)
  if (fields.length !== 9) {
    throw new DecodeError('MALFORMED', `entry envelope has ${fields.length} fields, expected 9`)
  }
  if (fields[0] !== ENTRY_ENVELOPE_VERSION) {
    throw new DecodeError('UNSUPPORTED_VERSION', `entry envelope version ${String(fields[0])}`, {
      supported: ENTRY_ENVELOPE_VERSION,
    })
  }
  const code = expectOneOf(fields[1], 'entry.operation', ['c', 'r', 's'])
  const operation = OPERATION_BY_CODE[code]
  assert(operation !== undefined, 'operation code maps to an operation')
  const proposer = expectString(fields[2], 'entry.proposer', ENTRY_ID_LENGTH_MAX)
  if (proposer.length === 0) throw new DecodeError('INVALID_FIELD', 'entry.proposer is empty')
  const sessionId = expectString(fields[5], 'entry.sessionId', ENTRY_ID_LENGTH_MAX)
  if (operation === 'command' && sessionId.length === 0) {
    throw new DecodeError('INVALID_FIELD', 'entry.sessionId is empty for a command')
  }
  return {
    operation,
    proposer,
    requestId: expectUint(fields[3], 'entry.requestId'),
    timestampMs: expectUint(fields[4], 'entry.timestampMs'),
    sessionId,
    sequence: expectUint(fields[6], 'entry.sequence'),
    acknowledgedBelow: expectUint(fields[7], 'entry.acknowledgedBelow'),
    payload: plainBytes(expectBytes(fields[8], 'entry.payload', payloadBytesMax)),
  }
}

/** A view of decoded bytes as a plain Uint8Array (msgpackr hands out Buffers on Node). */
function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
