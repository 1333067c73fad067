import { assert } from '@socketcloud/core'

/**
 * Client sessions (Ongaro's thesis §6.3): each client registers once and numbers its commands; the
 * table remembers the response of every command the client has not yet acknowledged, so a command
 * that is committed twice (a retry after a lost reply or a leader change) is applied at most once and
 * the retry receives the first result.
 *
 * The table lives in the apply path and is replicated through the log and the snapshots, so every
 * decision here must be a pure function of the committed entries: time is the log clock (the
 * leader-proposed timestamps of committed entries), and iteration uses insertion order only.
 *
 * Sessions are kept in a Map ordered by last activity (a touched session is moved to the end); since
 * log time never decreases, the oldest sessions are always at the front, which makes expiry and
 * eviction O(1) per removed session.
 */
export interface SessionTableLimits {
  /** Sessions kept; registering one more evicts the least recently active. */
  readonly sessionsMax: number
  /** Responses remembered per session; a command beyond it is refused (never silently forgotten). */
  readonly sessionResponsesMax: number
  /** A session idle this long in log time is expired. */
  readonly sessionExpiryMs: number
}

interface Session {
  lastActiveMs: number
  /** Every sequence number below this one was acknowledged by the client; responses are dropped. */
  acknowledgedBelow: number
  readonly responses: Map<number, Uint8Array>
}

export type SessionOutcome =
  | { readonly kind: 'applied'; readonly result: Uint8Array }
  | { readonly kind: 'duplicate'; readonly result: Uint8Array }
  | { readonly kind: 'expired' }
  | { readonly kind: 'acknowledged' }
  | { readonly kind: 'responses-full' }

/** The wire/snapshot form: [sessionId, lastActiveMs, acknowledgedBelow, [[sequence, response], ...]]. */
export type SessionRecord = [string, number, number, Array<[number, Uint8Array]>]

export class SessionTable {
  private readonly sessions = new Map<string, Session>()

  constructor(private readonly limits: SessionTableLimits) {}

  get size(): number {
    return this.sessions.size
  }

  has(sessionId: string): boolean {
    return this.sessions.has(sessionId)
  }

  /** Opens a session (its id is unique because it is the register entry's log index). */
  register(sessionId: string, timeMs: number): void {
    this.expire(timeMs)
    assert(!this.sessions.has(sessionId), `session ${sessionId} registered twice`)
    this.sessions.set(sessionId, { lastActiveMs: timeMs, acknowledgedBelow: 1, responses: new Map() })
    while (this.sessions.size > this.limits.sessionsMax) {
      const oldest = this.sessions.keys().next().value as string
      this.sessions.delete(oldest)
    }
  }

  /**
   * Runs `execute` unless `sequence` of `sessionId` was already applied. `acknowledgedBelow` is the
   * client's promise that it holds every response below it, so those can be forgotten.
   */
  apply(
    sessionId: string,
    sequence: number,
    acknowledgedBelow: number,
    timeMs: number,
    execute: () => Uint8Array,
  ): SessionOutcome {
    this.expire(timeMs)
    const session = this.sessions.get(sessionId)
    if (!session) return { kind: 'expired' }
    this.touch(sessionId, session, timeMs)
    if (acknowledgedBelow > session.acknowledgedBelow) {
      session.acknowledgedBelow = acknowledgedBelow
      // Deleting the entry being visited is safe while iterating a Map, so no copy of the keys.
      for (const seen of session.responses.keys()) {
        if (seen < acknowledgedBelow) session.responses.delete(seen)
      }
    }
    const cached = session.responses.get(sequence)
    if (cached) return { kind: 'duplicate', result: cached }
    if (sequence < session.acknowledgedBelow) return { kind: 'acknowledged' }
    if (session.responses.size >= this.limits.sessionResponsesMax) return { kind: 'responses-full' }
    const result = execute()
    session.responses.set(sequence, result)
    return { kind: 'applied', result }
  }

  /** Removes sessions idle for longer than the expiry, by log time. */
  expire(timeMs: number): void {
    for (const [sessionId, session] of this.sessions) {
      if (session.lastActiveMs + this.limits.sessionExpiryMs >= timeMs) break
      this.sessions.delete(sessionId)
    }
  }

  toRecords(): SessionRecord[] {
    const records: SessionRecord[] = []
    for (const [sessionId, session] of this.sessions) {
      records.push([sessionId, session.lastActiveMs, session.acknowledgedBelow, [...session.responses]])
    }
    return records
  }

  /** Replaces the table with `records` (already validated by the snapshot decoder), keeping their order. */
  restore(records: readonly SessionRecord[]): void {
    this.sessions.clear()
    let previousActiveMs = -Infinity
    for (const [sessionId, lastActiveMs, acknowledgedBelow, responses] of records) {
      assert(lastActiveMs >= previousActiveMs, 'snapshot sessions must be ordered by last activity')
      previousActiveMs = lastActiveMs
      this.sessions.set(sessionId, { lastActiveMs, acknowledgedBelow, responses: new Map(responses) })
    }
  }

  private touch(sessionId: string, session: Session, timeMs: number): void {
    session.lastActiveMs = timeMs
    this.sessions.delete(sessionId)
    this.sessions.set(sessionId, session)
  }
}
