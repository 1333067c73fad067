import type { Random } from '@socketcloud/core'

/** How long to wait between attempts. Validated by `resolveRetryPolicy`. */
export interface BackoffPolicy {
  /** Ceiling of the first retry's delay; each later retry doubles it. */
  readonly baseDelayMs: number
  /** No delay ceiling grows past this. */
  readonly delayMsMax: number
  /** A server's `Retry-After` is honoured up to this many milliseconds. */
  readonly retryAfterMsMax: number
}

/**
 * Exponential backoff with full jitter (a uniform draw in [0, ceiling)), which spreads the retries of many
 * clients that failed together instead of synchronising them. `retryIndex` is 0 for the first retry. A
 * server's `Retry-After` is a floor: the client never comes back sooner than asked (capped by
 * `retryAfterMsMax`).
 */
export function backoffDelayMs(
  retryIndex: number,
  policy: BackoffPolicy,
  random: Random,
  retryAfterMs?: number,
): number {
  const exponent = Math.min(retryIndex, 30)
  const ceiling = Math.min(policy.delayMsMax, policy.baseDelayMs * 2 ** exponent)
  const jittered = random.nextFloat() * ceiling
  const floor = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, policy.retryAfterMsMax)
  return Math.max(jittered, floor)
}

/**
 * Parses `Retry-After` as delta-seconds (the form API.md uses). The HTTP-date form needs the wall clock and
 * is treated as absent, so the normal backoff applies.
 */
export function parseRetryAfterMs(header: string | null | undefined): number | undefined {
  if (header === null || header === undefined) return undefined
  const trimmed = header.trim()
  if (!/^\d{1,9}$/.test(trimmed)) return undefined
  return Number(trimmed) * 1000
}
