/**
 * Goal: reconnect delays grow exponentially, are capped, and are spread by full jitter.
 * Method: draw many delays from a seeded Random and check bounds and spread per attempt.
 */
import { describe, expect, it } from 'vitest'
import { SeededRandom } from '@socketcloud/core'
import { backoffDelayMs } from './backoff'

const policy = { delayInitialMs: 100, delayMaxMs: 5_000 }

describe('backoffDelayMs', () => {
  it('stays within [0, min(max, initial * 2^(attempt-1))]', () => {
    const random = new SeededRandom(7)
    for (let attempt = 1; attempt <= 60; attempt++) {
      const ceiling = Math.min(policy.delayMaxMs, policy.delayInitialMs * 2 ** (attempt - 1))
      for (let draw = 0; draw < 200; draw++) {
        const delay = backoffDelayMs(policy, attempt, random)
        expect(delay).toBeGreaterThanOrEqual(0)
        expect(delay).toBeLessThanOrEqual(ceiling)
        expect(Number.isInteger(delay)).toBe(true)
      }
    }
  })

  it('spreads delays over the whole window (full jitter), not around its top', () => {
    const random = new SeededRandom(11)
    const delays = Array.from({ length: 2_000 }, () => backoffDelayMs(policy, 10, random))
    const below = delays.filter((delay) => delay < policy.delayMaxMs / 4).length
    const above = delays.filter((delay) => delay > (policy.delayMaxMs * 3) / 4).length
    // Uniform on [0, 5000]: about a quarter of draws in each outer quarter.
    expect(below).toBeGreaterThan(350)
    expect(above).toBeGreaterThan(350)
  })

  it('is deterministic for a seed', () => {
    const first = Array.from({ length: 10 }, (_, index) =>
      backoffDelayMs(policy, index + 1, new SeededRandom(3)),
    )
    const second = Array.from({ length: 10 }, (_, index) =>
      backoffDelayMs(policy, index + 1, new SeededRandom(3)),
    )
    expect(first).toEqual(second)
  })

  it('does not overflow for huge attempt numbers', () => {
    expect(backoffDelayMs(policy, 10_000, new SeededRandom(1))).toBeLessThanOrEqual(policy.delayMaxMs)
  })
})
