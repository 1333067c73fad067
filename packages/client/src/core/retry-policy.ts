import type { Outcome } from '../errors'

/**
 * What a request may do to the cluster, which decides when retrying it is safe:
 * - `read` changes nothing and is retried on any transient failure;
 * - `session_write` carries a session id and sequence number, so the cluster applies it at most once however
 *   many times it is sent, and it is retried even when an attempt's outcome is unknown;
 * - `unsafe_write` has no such guard (admin calls, or writes with `safeWrites: false`) and is retried only when
 *   the failed attempt certainly did not apply.
 */
export type RequestKind = 'read' | 'session_write' | 'unsafe_write'

/** Why one HTTP attempt failed. */
export type AttemptFailure =
  /** The connection could not be opened: the request never reached a server. */
  | { readonly kind: 'connect_failed' }
  /** The request may have been sent, but the connection broke before an answer. */
  | { readonly kind: 'connection_lost' }
  /** No complete answer within `requestTimeoutMs`. */
  | { readonly kind: 'timeout' }
  /** An answer with a status that is not a success. */
  | {
      readonly kind: 'status'
      readonly status: number
      readonly code: string | undefined
      readonly outcome: Outcome | undefined
      readonly retryAfterMs: number | undefined
    }

export interface RetryDecision {
  readonly retry: boolean
  /** Try the next endpoint rather than the same one. */
  readonly failover: boolean
  /** Open a new session before retrying (the old one expired and the write certainly did not apply). */
  readonly renewSession: boolean
  /** What this attempt means for the write, folded with the earlier attempts. */
  readonly outcome: Outcome
  /** The server asked the client not to come back sooner (`Retry-After`). */
  readonly retryAfterMs: number | undefined
}

/**
 * Refusals decided by the replicated state machine itself. For a session write they are the cluster's one
 * answer for that (session, sequence), so they are authoritative even after an attempt whose fate was unknown.
 */
const STATE_MACHINE_CODES: ReadonlySet<string> = new Set([
  'revision_mismatch',
  'held',
  'not_holder',
  'lease_expired',
  'overflow',
  'not_found',
])

/** What one failed attempt says about whether the call was applied. */
export function attemptOutcome(failure: AttemptFailure, kind: RequestKind): Outcome {
  if (kind === 'read') return 'not_applied'
  switch (failure.kind) {
    case 'connect_failed':
      return 'not_applied'
    case 'connection_lost':
    case 'timeout':
      return 'unknown'
    case 'status':
      if (failure.outcome !== undefined) return failure.outcome
      // A 4xx without an outcome is a refusal before anything was proposed; a bare 5xx could be anything.
      return failure.status >= 400 && failure.status < 500 ? 'not_applied' : 'unknown'
  }
}

/**
 * Decides whether to retry after a failed attempt. `unknownSoFar` is true when an earlier attempt of the same
 * call ended with an unknown outcome: such a write may still apply, so an expired session must not be
 * replaced (a new session would not deduplicate against the old one) and the final outcome stays unknown.
 */
export function decideRetry(
  failure: AttemptFailure,
  kind: RequestKind,
  unknownSoFar: boolean,
): RetryDecision {
  const outcome = attemptOutcome(failure, kind)
  const authoritative =
    kind === 'session_write' && failure.kind === 'status' && STATE_MACHINE_CODES.has(failure.code ?? '')
  const folded: Outcome =
    kind !== 'read' && !authoritative && (unknownSoFar || outcome === 'unknown') ? 'unknown' : outcome
  const base = { renewSession: false, outcome: folded, retryAfterMs: undefined }
  switch (failure.kind) {
    case 'connect_failed':
      return { ...base, retry: true, failover: true }
    case 'connection_lost':
    case 'timeout':
      return { ...base, retry: kind !== 'unsafe_write', failover: true }
    case 'status': {
      const retryAfterMs = failure.retryAfterMs
      if (failure.status === 410 && failure.code === 'session_expired') {
        const renew = kind === 'session_write' && folded === 'not_applied'
        return { ...base, retry: renew, failover: false, renewSession: renew, retryAfterMs }
      }
      const transient = failure.status === 429 || failure.status === 408 || failure.status >= 500
      if (!transient) return { ...base, retry: false, failover: false, retryAfterMs }
      const safe = kind !== 'unsafe_write' || outcome === 'not_applied'
      return { ...base, retry: safe, failover: failure.status !== 429, retryAfterMs }
    }
  }
}
