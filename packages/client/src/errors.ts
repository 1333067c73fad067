import { SocketCloudError } from '@socketcloud/core'

/**
 * Whether a failed call changed the cluster. `not_applied`: it certainly did not (safe to retry by hand).
 * `unknown`: it may have been applied (or may still be, at most once). `applied`: the server applied it but
 * the answer could not be used (for example a malformed success body). Reads always report `not_applied`.
 */
export type Outcome = 'applied' | 'not_applied' | 'unknown'

/**
 * Codes the server sends (API.md) and codes the client makes up itself. The union is open because a newer
 * server may send a code this client does not know; it still arrives as a `SocketCloudClientError`.
 */
export type ClientErrorCode =
  // From the server.
  | 'bad_request'
  | 'invalid_key'
  | 'invalid_name'
  | 'not_found'
  | 'unknown_route'
  | 'method_not_allowed'
  | 'body_too_large'
  | 'unauthorized'
  | 'forbidden'
  | 'revision_mismatch'
  | 'overflow'
  | 'held'
  | 'not_holder'
  | 'lease_expired'
  | 'member_exists'
  | 'not_member'
  | 'no_leader'
  | 'stopping'
  | 'overloaded'
  | 'timeout'
  | 'session_expired'
  | 'compacted'
  | 'slow_consumer'
  // Made by the client.
  | 'unreachable'
  | 'bad_response'
  | 'aborted'
  | 'invalid_argument'
  | (string & {})

export interface ClientErrorDetails {
  /** HTTP status of the answer that ended the call; absent when no answer arrived (network, timeout). */
  readonly status?: number
  readonly outcome: Outcome
  /** The endpoint that gave the final answer (or the last one tried). */
  readonly endpoint?: string
  /** How many HTTP attempts the call made, including the first. */
  readonly attempts?: number
  /** Extra fields of the server's error body, already validated by the subclass that uses them. */
  readonly body?: Readonly<Record<string, unknown>>
  readonly cause?: unknown
}

/** Every failure of the client is one of these (or a subclass); `code` is what callers branch on. */
export class SocketCloudClientError extends SocketCloudError {
  declare readonly code: ClientErrorCode
  readonly status: number | undefined
  readonly outcome: Outcome
  readonly endpoint: string | undefined
  readonly attempts: number

  constructor(code: ClientErrorCode, message: string, details: ClientErrorDetails) {
    super(
      code,
      message,
      {
        status: details.status,
        outcome: details.outcome,
        endpoint: details.endpoint,
        attempts: details.attempts ?? 0,
        ...details.body,
      },
      details.cause === undefined ? undefined : { cause: details.cause },
    )
    this.status = details.status
    this.outcome = details.outcome
    this.endpoint = details.endpoint
    this.attempts = details.attempts ?? 0
  }
}

/** `409 revision_mismatch`: a compare-and-set saw another mod revision (`current`, 0 when the key is absent). */
export class RevisionMismatchError extends SocketCloudClientError {
  declare readonly code: 'revision_mismatch'
  readonly current: number

  constructor(message: string, current: number, details: ClientErrorDetails) {
    super('revision_mismatch', message, details)
    this.current = current
  }
}

/** `409 held`: another owner holds the lock until `expiresAt` (leader log time, ms since the epoch). */
export class LockHeldError extends SocketCloudClientError {
  declare readonly code: 'held'
  readonly holder: string
  readonly expiresAt: number

  constructor(message: string, holder: string, expiresAt: number, details: ClientErrorDetails) {
    super('held', message, details)
    this.holder = holder
    this.expiresAt = expiresAt
  }
}

/**
 * A watch asked for history the node no longer keeps. Start again from a fresh `kv.list` (its `revision`
 * + 1 is where the new watch should begin).
 */
export class CompactedError extends SocketCloudClientError {
  declare readonly code: 'compacted'
  readonly compactRevision: number

  constructor(message: string, compactRevision: number, details: ClientErrorDetails) {
    super('compacted', message, details)
    this.compactRevision = compactRevision
  }
}

/** Narrows an unknown thrown value to a client error, optionally of one code. */
export function isClientError(thrown: unknown, code?: ClientErrorCode): thrown is SocketCloudClientError {
  return thrown instanceof SocketCloudClientError && (code === undefined || thrown.code === code)
}
