import { describe, expect, it } from 'vitest'
import { decideRetry } from './retry-policy'
import type { AttemptFailure } from './retry-policy'

// Goal: the table of when a call is retried, where, and what its outcome is, matches the safety argument:
// reads retry on anything transient; session writes retry even when an attempt's fate is unknown; writes
// without a session retry only when the server says "not applied". Method: the decision for each case.
const status = (
  code: number,
  error?: string,
  outcome?: 'applied' | 'not_applied' | 'unknown',
): AttemptFailure => ({
  kind: 'status',
  status: code,
  code: error,
  outcome,
  retryAfterMs: undefined,
})

describe('decideRetry', () => {
  it('retries reads on every transient failure and never on a refusal', () => {
    for (const failure of [
      { kind: 'connect_failed' } as const,
      { kind: 'connection_lost' } as const,
      { kind: 'timeout' } as const,
      status(503, 'no_leader', 'not_applied'),
      status(504, 'timeout', 'unknown'),
      status(500),
      status(429, 'overloaded', 'not_applied'),
    ]) {
      const decision = decideRetry(failure, 'read', false)
      expect(decision.retry, failure.kind).toBe(true)
      expect(decision.outcome).toBe('not_applied')
    }
    expect(decideRetry(status(400, 'bad_request'), 'read', false).retry).toBe(false)
    expect(decideRetry(status(404, 'not_found'), 'read', false).retry).toBe(false)
  })

  it('fails over on connection trouble and 5xx, but stays on 429', () => {
    expect(decideRetry({ kind: 'connect_failed' }, 'read', false).failover).toBe(true)
    expect(decideRetry({ kind: 'timeout' }, 'read', false).failover).toBe(true)
    expect(decideRetry(status(503, 'no_leader', 'not_applied'), 'read', false).failover).toBe(true)
    expect(decideRetry(status(429, 'overloaded', 'not_applied'), 'read', false).failover).toBe(false)
  })

  it('retries session writes whose outcome is unknown, and reports the outcome as unknown', () => {
    for (const failure of [
      { kind: 'connection_lost' } as const,
      { kind: 'timeout' } as const,
      status(504, 'timeout', 'unknown'),
    ]) {
      const decision = decideRetry(failure, 'session_write', false)
      expect(decision.retry).toBe(true)
      expect(decision.outcome).toBe('unknown')
    }
  })

  it('does not retry an unsafe write whose outcome is unknown', () => {
    expect(decideRetry({ kind: 'timeout' }, 'unsafe_write', false)).toMatchObject({
      retry: false,
      outcome: 'unknown',
    })
    expect(decideRetry(status(504, 'timeout', 'unknown'), 'unsafe_write', false).retry).toBe(false)
    expect(decideRetry(status(500), 'unsafe_write', false).retry).toBe(false)
    expect(decideRetry(status(503, 'no_leader', 'not_applied'), 'unsafe_write', false)).toMatchObject({
      retry: true,
      outcome: 'not_applied',
    })
    expect(decideRetry({ kind: 'connect_failed' }, 'unsafe_write', false)).toMatchObject({
      retry: true,
      outcome: 'not_applied',
    })
  })

  it('keeps an unknown outcome once any attempt was unknown', () => {
    expect(decideRetry(status(503, 'no_leader', 'not_applied'), 'session_write', true).outcome).toBe(
      'unknown',
    )
    expect(decideRetry(status(403, 'forbidden'), 'session_write', true).outcome).toBe('unknown')
  })

  it('treats a state-machine refusal of a session write as authoritative', () => {
    expect(decideRetry(status(409, 'revision_mismatch'), 'session_write', true)).toMatchObject({
      retry: false,
      outcome: 'not_applied',
    })
  })

  it('renews an expired session only when nothing may have been applied', () => {
    expect(decideRetry(status(410, 'session_expired', 'not_applied'), 'session_write', false)).toMatchObject({
      retry: true,
      renewSession: true,
    })
    expect(decideRetry(status(410, 'session_expired', 'not_applied'), 'session_write', true)).toMatchObject({
      retry: false,
      renewSession: false,
      outcome: 'unknown',
    })
    expect(decideRetry(status(410, 'session_expired', 'unknown'), 'session_write', false)).toMatchObject({
      retry: false,
      outcome: 'unknown',
    })
  })

  it('passes Retry-After through', () => {
    const failure: AttemptFailure = {
      kind: 'status',
      status: 503,
      code: 'no_leader',
      outcome: 'not_applied',
      retryAfterMs: 1000,
    }
    expect(decideRetry(failure, 'read', false).retryAfterMs).toBe(1000)
  })
})
