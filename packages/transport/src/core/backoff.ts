import { assert, type Random } from '@socketcloud/core'

export interface BackoffPolicy {
  /** Upper bound of the first delay. */
  readonly delayInitialMs: number
  /** Upper bound no delay exceeds, however many attempts failed. */
  readonly delayMaxMs: number
}

/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"):
 * the delay before attempt n is uniform in [0, min(delayMaxMs, delayInitialMs * 2^(n-1))]. Full
 * jitter spreads a crowd of nodes that lost the same peer, so they do not reconnect in lockstep.
 * Pure: randomness comes from the injected `Random`.
 */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: Random): number {
  assert(Number.isInteger(attempt) && attempt >= 1, 'attempt counts from 1')
  assert(
    policy.delayInitialMs >= 0 && policy.delayMaxMs >= policy.delayInitialMs,
    'backoff bounds are ordered',
  )
  // 2^52 already exceeds any useful delay; clamping the exponent keeps the arithmetic finite.
  const ceiling = Math.min(policy.delayMaxMs, policy.delayInitialMs * 2 ** Math.min(attempt - 1, 52))
  return Math.floor(random.nextFloat() * (ceiling + 1))
}
