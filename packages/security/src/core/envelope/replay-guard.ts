import { LimitExceededError, bytesToHex, checkLimit } from '@socketcloud/core'
import { SecurityError } from '../../errors'
import type { SignedEnvelope } from './signed-envelope'

export interface ReplayGuardInit {
  /**
   * How far an envelope's timestamp may lie from `now`, either way, in milliseconds. Older envelopes
   * are refused as STALE, so the nonce cache only has to remember this window.
   * @default 120000
   */
  readonly windowMs?: number
  /**
   * Nonces remembered at once. When full, new envelopes are refused with LimitExceededError until
   * old nonces age out of the window: forgetting an unexpired nonce would reopen the replay hole.
   * @default 100000
   */
  readonly nonceEntriesMax?: number
}

/**
 * Refuses an envelope seen before: it must carry a nonce and a timestamp within `windowMs` of now,
 * and its (signer, context, nonce) must not have been accepted in the window. Pure: time comes in as
 * an argument. Check the signature first, then call `accept`, so forged envelopes cannot fill the cache.
 */
export class ReplayGuard {
  readonly windowMs: number
  readonly nonceEntriesMax: number
  /** key -> expiry (timestamp + window); insertion order is close to expiry order. */
  private readonly seen = new Map<string, number>()

  constructor(init: ReplayGuardInit = {}) {
    this.windowMs = checkLimit('windowMs', init.windowMs ?? 120_000, 1)
    this.nonceEntriesMax = checkLimit('nonceEntriesMax', init.nonceEntriesMax ?? 100_000, 1)
  }

  get size(): number {
    return this.seen.size
  }

  /** Throws SecurityError `STALE` or `REPLAYED`, or LimitExceededError when the cache is full. */
  accept(envelope: SignedEnvelope, nowMs: number): void {
    const { nonce, timestampMs } = envelope
    if (!nonce || nonce.length < 8 || timestampMs === undefined) {
      throw new SecurityError(
        'STALE',
        'envelope needs a nonce of at least 8 bytes and a timestamp for replay protection',
        {
          context: envelope.context,
        },
      )
    }
    if (Math.abs(nowMs - timestampMs) > this.windowMs) {
      throw new SecurityError(
        'STALE',
        `envelope timestamp is ${nowMs - timestampMs} ms from now, outside ±${this.windowMs} ms`,
        {
          context: envelope.context,
          timestampMs,
          nowMs,
          windowMs: this.windowMs,
        },
      )
    }
    this.expire(nowMs)
    const key = `${bytesToHex(envelope.publicKey)}/${envelope.context}/${bytesToHex(nonce)}`
    if (this.seen.has(key)) {
      throw new SecurityError('REPLAYED', 'envelope nonce was already used', { context: envelope.context })
    }
    if (this.seen.size >= this.nonceEntriesMax) {
      throw new LimitExceededError('nonceEntriesMax', this.seen.size + 1, this.nonceEntriesMax)
    }
    // Remember until the timestamp can no longer pass the window check.
    this.seen.set(key, timestampMs + this.windowMs)
  }

  private expire(nowMs: number): void {
    for (const [key, expiresMs] of this.seen) {
      if (expiresMs >= nowMs) {
        // Entries are inserted roughly in expiry order; stop at the first live one, and sweep the
        // whole map only when the cache is full, so a skewed entry cannot pin the memory.
        if (this.seen.size < this.nonceEntriesMax) return
        continue
      }
      this.seen.delete(key)
    }
  }
}
