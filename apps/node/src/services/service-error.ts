import { ConsensusError, LimitExceededError, SocketCloudError, type ErrorContext } from '@socketcloud/core'

/** Whether a failed write may have been applied: the client decides from this whether a retry is safe. */
export type WriteOutcome = 'not_applied' | 'unknown'

export interface ServiceErrorInit {
  /** HTTP status the API answers with. */
  readonly status: number
  /** The contract's error code (`no_leader`, `revision_mismatch`, ...). */
  readonly error: string
  readonly message: string
  readonly outcome?: WriteOutcome
  /** Seconds for `Retry-After`. */
  readonly retryAfterSeconds?: number
  /** Extra JSON fields of the error body (`current`, `holder`, ...). */
  readonly extra?: Readonly<Record<string, unknown>>
  readonly cause?: unknown
}

/**
 * A refusal of a node operation in the API contract's terms (status, error code, outcome), so the
 * HTTP layer only serialises it. Thrown by NodeServices for every failure a client can see.
 */
export class ServiceError extends SocketCloudError {
  readonly status: number
  readonly error: string
  readonly outcome: WriteOutcome | undefined
  readonly retryAfterSeconds: number | undefined
  readonly extra: Readonly<Record<string, unknown>>

  constructor(init: ServiceErrorInit) {
    super(`API_${init.error.toUpperCase()}`, init.message, (init.extra ?? {}) as ErrorContext, {
      cause: init.cause,
    })
    this.status = init.status
    this.error = init.error
    this.outcome = init.outcome
    this.retryAfterSeconds = init.retryAfterSeconds
    this.extra = init.extra ?? {}
  }

  /** The JSON error body of the contract. */
  body(): Record<string, unknown> {
    return {
      error: this.error,
      message: this.message,
      ...(this.outcome ? { outcome: this.outcome } : {}),
      ...this.extra,
    }
  }
}

export const notFound = (message = 'not found'): ServiceError =>
  new ServiceError({ status: 404, error: 'not_found', message })

export const badRequest = (message: string, error = 'bad_request'): ServiceError =>
  new ServiceError({ status: 400, error, message })

export const noLeader = (message: string, cause?: unknown): ServiceError =>
  new ServiceError({
    status: 503,
    error: 'no_leader',
    outcome: 'not_applied',
    retryAfterSeconds: 1,
    message,
    cause,
  })

/** The node is shutting down (SIGTERM drain): nothing was proposed. */
export const stopping = (detail?: string, cause?: unknown): ServiceError =>
  new ServiceError({
    status: 503,
    error: 'stopping',
    outcome: 'not_applied',
    message: detail ? `the node is shutting down: ${detail}` : 'the node is shutting down',
    cause,
  })

export const timeout = (message: string, cause?: unknown): ServiceError =>
  new ServiceError({ status: 504, error: 'timeout', outcome: 'unknown', message, cause })

/**
 * Maps what the consensus runtime throws to the contract. Reads get the same mapping; their outcome
 * field is harmless (a read changes nothing).
 */
export function fromRuntimeError(thrown: unknown): ServiceError {
  if (thrown instanceof ServiceError) return thrown
  if (thrown instanceof ConsensusError) {
    switch (thrown.code) {
      case 'NO_LEADER':
      case 'NOT_LEADER':
      case 'PROPOSAL_DROPPED':
      case 'NOT_MEMBER':
        return noLeader(`no leader could take the request: ${thrown.message}`, thrown)
      case 'TIMEOUT':
        return timeout(`not known to be committed in time: ${thrown.message}`, thrown)
      case 'STOPPED':
        return stopping(thrown.message, thrown)
      case 'SESSION_EXPIRED': {
        // The leader's session table says 'acknowledged' when the sequence number is below what the
        // client promised it holds: the command may have applied long ago, so the outcome is unknown.
        const reason = thrown.context['reason']
        return new ServiceError({
          status: 410,
          error: 'session_expired',
          outcome: reason === 'acknowledged' ? 'unknown' : 'not_applied',
          message: `the session is not open (expired, evicted or already past this sequence): ${thrown.message}`,
          cause: thrown,
        })
      }
      case 'PROPOSAL_TOO_LARGE':
        return new ServiceError({
          status: 413,
          error: 'body_too_large',
          message: `the request is larger than a replicated command may be: ${thrown.message}`,
          cause: thrown,
        })
    }
  }
  if (thrown instanceof LimitExceededError) {
    return new ServiceError({
      status: 429,
      error: 'overloaded',
      outcome: 'not_applied',
      retryAfterSeconds: 1,
      message: `a queue limit was hit: ${thrown.message}`,
      cause: thrown,
    })
  }
  const error = thrown instanceof Error ? thrown : new Error(String(thrown))
  return new ServiceError({
    status: 500,
    error: 'internal',
    outcome: 'unknown',
    message: `internal error: ${error.message}`,
    cause: error,
  })
}

/** Maps a machine's refusal (`[0, code, message]`) that has no specific meaning to the contract. */
export function fromMachineRefusal(code: string, message: string): ServiceError {
  switch (code) {
    case 'INVALID_COMMAND':
    case 'INVALID_QUERY':
      return badRequest(message)
    case 'LIMIT_EXCEEDED':
      // Deterministically refused, nothing changed; retrying helps only once room is made.
      return new ServiceError({
        status: 429,
        error: 'overloaded',
        outcome: 'not_applied',
        retryAfterSeconds: 1,
        message: `a store limit was hit: ${message}`,
      })
    default:
      return new ServiceError({
        status: 500,
        error: 'internal',
        outcome: 'not_applied',
        message: `${code}: ${message}`,
      })
  }
}
