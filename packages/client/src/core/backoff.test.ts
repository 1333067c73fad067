import { SeededRandom } from '@socketcloud/core'
import type { Random } from '@socketcloud/core'
import { describe, expect, it } from 'vitest'
import { backoffDelayMs, parseRetryAfterMs } from './backoff'

// Goal: the retry delays spread clients out (full jitter) within an exponentially growing, capped window,
// and never undercut a server's Retry-After. Method: fixed random draws at the extremes, then a seeded sweep.
const policy = { baseDelayMs: 50, delayMsMax: 2000, retryAfterMsMax: 10_000 }
const fixed = (value: number): Random => ({ nextFloat: () => value, nextUint32: () => 0, nextInt: () => 0 })

describe('backoffDelayMs', () => {
  it('doubles the ceiling per retry up to delayMsMax', () => {
    const almostOne = fixed(0.999999)
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 40].map((index) =>
      Math.round(backoffDelayMs(index, policy, almostOne)),
    )
    expect(ceilings).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000])
  })

  it('draws uniformly below the ceiling (full jitter)', () => {
    const random = new SeededRandom(7)
    const delays = Array.from({ length: 2000 }, () => backoffDelayMs(3, policy, random))
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...delays)).toBeLessThan(400)
    const mean = delays.reduce((sum, delay) => sum + delay, 0) / delays.length
    expect(mean).toBeGreaterThan(170)
    expect(mean).toBeLessThan(230)
  })

  it('never comes back before Retry-After, capped by retryAfterMsMax', () => {
    expect(backoffDelayMs(0, policy, fixed(0), 1000)).toBe(1000)
    expect(backoffDelayMs(0, policy, fixed(0), 60_000)).toBe(10_000)
    expect(backoffDelayMs(10, policy, fixed(0.9999), 1000)).toBeGreaterThan(1000)
  })
})

describe('parseRetryAfterMs', () => {
  it('reads delta-seconds and ignores anything else', () => {
    expect(parseRetryAfterMs('1')).toBe(1000)
    expect(parseRetryAfterMs(' 3 ')).toBe(3000)
    expect(parseRetryAfterMs(null)).toBeUndefined()
    expect(parseRetryAfterMs('-1')).toBeUndefined()
    expect(parseRetryAfterMs('1.5')).toBeUndefined()
    expect(parseRetryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT')).toBeUndefined()
  })
})
