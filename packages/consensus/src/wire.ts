import {
  DecodeError,
  expectBytes,
  expectOneOf,
  expectRecord,
  expectString,
  expectUint,
  optional,
} from '@socketcloud/core'
import { ENTRY_ID_LENGTH_MAX, type EntryOperation } from './core/entry-envelope'

/**
 * The runtime's own messages between replicas, beside the engine's: a follower forwards its clients'
 * submissions and read-index requests to the leader and gets the outcome back. Every payload is
 * validated here, at the boundary, into these types.
 */
export const MESSAGE_TYPES = {
  submit: 'consensus.submit',
  submitResult: 'consensus.submit-result',
  readIndex: 'consensus.read-index',
  readIndexResult: 'consensus.read-index-result',
} as const

export const RUNTIME_MESSAGE_PREFIX = 'consensus.'

/** Why a leader could not take a forwarded request; the forwarder retries or fails its client. */
export const FORWARD_FAILURES = [
  'NOT_LEADER',
  'NO_LEADER',
  'OVERLOADED',
  'PROPOSAL_TOO_LARGE',
  'SESSION_EXPIRED',
  'REJECTED',
  'UNSUPPORTED',
] as const
export type ForwardFailure = (typeof FORWARD_FAILURES)[number]

export interface SubmitRequest {
  readonly kind: 'submit'
  readonly requestId: number
  readonly operation: EntryOperation
  readonly sessionId: string
  readonly sequence: number
  readonly acknowledgedBelow: number
  readonly payload: Uint8Array
}

export type SubmitResponse =
  | {
      readonly kind: 'submit-result'
      readonly requestId: number
      readonly status: 'ok'
      readonly result: Uint8Array
      readonly sessionId: string
    }
  | {
      readonly kind: 'submit-result'
      readonly requestId: number
      readonly status: ForwardFailure
      readonly leader: string | null
    }

export interface ReadIndexRequest {
  readonly kind: 'read-index'
  readonly requestId: number
}

export type ReadIndexResponse =
  | {
      readonly kind: 'read-index-result'
      readonly requestId: number
      readonly status: 'ok'
      readonly index: number
    }
  | {
      readonly kind: 'read-index-result'
      readonly requestId: number
      readonly status: ForwardFailure
      readonly leader: string | null
    }

export type RuntimeMessage = SubmitRequest | SubmitResponse | ReadIndexRequest | ReadIndexResponse

export function runtimeMessageType(message: RuntimeMessage): string {
  switch (message.kind) {
    case 'submit':
      return MESSAGE_TYPES.submit
    case 'submit-result':
      return MESSAGE_TYPES.submitResult
    case 'read-index':
      return MESSAGE_TYPES.readIndex
    case 'read-index-result':
      return MESSAGE_TYPES.readIndexResult
  }
}

export function encodeRuntimeMessage(message: RuntimeMessage): Record<string, unknown> {
  switch (message.kind) {
    case 'submit':
      return {
        id: message.requestId,
        op: message.operation,
        s: message.sessionId,
        q: message.sequence,
        a: message.acknowledgedBelow,
        d: message.payload,
      }
    case 'submit-result':
      return message.status === 'ok'
        ? { id: message.requestId, st: 'ok', d: message.result, s: message.sessionId }
        : { id: message.requestId, st: message.status, l: message.leader }
    case 'read-index':
      return { id: message.requestId }
    case 'read-index-result':
      return message.status === 'ok'
        ? { id: message.requestId, st: 'ok', i: message.index }
        : { id: message.requestId, st: message.status, l: message.leader }
  }
}

/** Validates an untrusted payload of a `consensus.*` envelope; throws DecodeError. */
export function decodeRuntimeMessage(
  type: string,
  payload: unknown,
  payloadBytesMax: number,
): RuntimeMessage {
  const body = expectRecord(payload, type)
  const requestId = expectUint(body.id, `${type}.id`)
  switch (type) {
    case MESSAGE_TYPES.submit:
      return {
        kind: 'submit',
        requestId,
        operation: expectOneOf(body.op, `${type}.op`, ['command', 'read', 'register']),
        sessionId: expectString(body.s, `${type}.s`, ENTRY_ID_LENGTH_MAX),
        sequence: expectUint(body.q, `${type}.q`),
        acknowledgedBelow: expectUint(body.a, `${type}.a`),
        payload: expectBytes(body.d, `${type}.d`, payloadBytesMax),
      }
    case MESSAGE_TYPES.submitResult: {
      const status = expectOneOf(body.st, `${type}.st`, ['ok', ...FORWARD_FAILURES])
      if (status === 'ok') {
        return {
          kind: 'submit-result',
          requestId,
          status,
          result: expectBytes(body.d, `${type}.d`, payloadBytesMax),
          sessionId: expectString(body.s, `${type}.s`, ENTRY_ID_LENGTH_MAX),
        }
      }
      return { kind: 'submit-result', requestId, status, leader: readLeader(body.l, type) }
    }
    case MESSAGE_TYPES.readIndex:
      return { kind: 'read-index', requestId }
    case MESSAGE_TYPES.readIndexResult: {
      const status = expectOneOf(body.st, `${type}.st`, ['ok', ...FORWARD_FAILURES])
      if (status === 'ok') {
        return { kind: 'read-index-result', requestId, status, index: expectUint(body.i, `${type}.i`) }
      }
      return { kind: 'read-index-result', requestId, status, leader: readLeader(body.l, type) }
    }
    default:
      throw new DecodeError('UNKNOWN_TYPE', `unknown runtime message type ${type}`, { type })
  }
}

function readLeader(value: unknown, type: string): string | null {
  return optional(value, (present) => expectString(present, `${type}.l`, ENTRY_ID_LENGTH_MAX)) ?? null
}
