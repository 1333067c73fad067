/**
 * Goal: the exponential model reproduces Cassandra's ArrivalWindowTest. Method: replay the recorded
 * reports (fixtures/cassandra-phi-cases.json; Cassandra's test uses nanoseconds, the values here are
 * the same numbers in milliseconds) and compare raw and base-10 phi.
 */
import { describe, expect, it } from 'vitest'
import cassandra from './fixtures/cassandra-phi-cases.json' with { type: 'json' }
import { ExponentialAccrualDetector, PHI_FACTOR } from './exponential'

describe('ExponentialAccrualDetector (Cassandra ArrivalWindowTest)', () => {
  it.each(cassandra.cases)('window $windowSize, phi at $nowMs', (c) => {
    const detector = new ExponentialAccrualDetector({ sampleSizeMax: c.windowSize })
    for (const at of c.reportsMs) detector.report(at)
    expect(Math.abs(detector.phiRaw(c.nowMs) - c.phiRaw)).toBeLessThanOrEqual(c.tol)
    expect(Math.abs(detector.phi(c.nowMs) - c.phiScaled)).toBeLessThanOrEqual(c.tol)
  })

  it('uses PHI_FACTOR = 1/ln(10)', () => {
    expect(PHI_FACTOR).toBeCloseTo(0.4342944819, 9)
  })

  it('ignores intervals above intervalMaxMs and reports 0 before any report', () => {
    const detector = new ExponentialAccrualDetector({ sampleSizeMax: 2, initialIntervalMs: 100 })
    expect(detector.phi(1_000)).toBe(0)
    detector.report(0)
    detector.report(100)
    detector.report(10_100) // 10 s gap: beyond intervalMaxMs (= initial 100 ms), not recorded
    expect(detector.phiRaw(10_200)).toBeCloseTo(1, 9)
  })
})
