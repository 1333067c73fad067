/**
 * Goal: our phi accrual detector computes what Akka/Pekko's does. Method: replay every case recorded
 * in Pekko's AccrualFailureDetectorSpec (fixtures/akka-phi-cases.json), including the clock-driven
 * heartbeat sequences, where each call consumes one time reading in order; then check the levels and
 * option validation that are ours.
 */
import { ConfigError } from '@socketcloud/core'
import { describe, expect, it } from 'vitest'
import akka from './fixtures/akka-phi-cases.json' with { type: 'json' }
import { HeartbeatHistory, PhiAccrualDetector, cdfOfPhi, levelOf, phiOf } from './phi'
import type { PhiAccrualOptions } from './phi'

interface SequenceStep {
  readonly call: string
  readonly expect?: number | boolean
  readonly tol?: number
  readonly greaterThan?: number
  readonly save?: string
  readonly equalsSaved?: string
}

function optionsFromSpec(config: Record<string, number>): PhiAccrualOptions {
  const defaults = akka._about.defaults_in_spec
  return {
    threshold: config['threshold'] ?? defaults.threshold,
    suspectThreshold: 0,
    sampleSizeMax: config['maxSampleSize'] ?? defaults.maxSampleSize,
    minStdDeviationMs: config['minStdDeviationMs'] ?? defaults.minStdDeviationMs,
    acceptableHeartbeatPauseMs: config['acceptableHeartbeatPauseMs'] ?? defaults.acceptableHeartbeatPauseMs,
    firstHeartbeatEstimateMs: config['firstHeartbeatEstimateMs'] ?? defaults.firstHeartbeatEstimateMs,
  }
}

describe('phiOf (Pekko AccrualFailureDetectorSpec)', () => {
  it.each(akka.cdfCases)('cdf at timeDiff $timeDiff, mean $mean, std $std is $cdf', (c) => {
    expect(Math.abs(cdfOfPhi(phiOf(c.timeDiff, c.mean, c.std)) - c.cdf)).toBeLessThanOrEqual(c.tol)
  })

  it('is monotonically increasing', () => {
    const { mean, std, timeDiffFrom, timeDiffTo } = akka.monotonic
    for (let x = timeDiffFrom; x < timeDiffTo; x++) {
      expect(phiOf(x, mean, std)).toBeLessThan(phiOf(x + 1, mean, std))
    }
  })

  it.each(akka.phiCases)('phi at timeDiff $timeDiff, mean $mean, std $std is $phi ($note)', (c) => {
    const phi = phiOf(c.timeDiff, c.mean, c.std)
    expect(Number.isFinite(phi)).toBe(true)
    expect(Math.abs(phi - c.phi)).toBeLessThanOrEqual(c.tol)
    if (c.tol === 0) expect(Object.is(phi, c.phi)).toBe(true)
  })

  it.each(akka.phiOrder)('$note', (c) => {
    expect(phiOf(c.lower.timeDiff, c.lower.mean, c.lower.std)).toBeLessThan(
      phiOf(c.higher.timeDiff, c.higher.mean, c.higher.std),
    )
  })
})

describe('HeartbeatHistory', () => {
  it.each(akka.historyStats)('window $maxSampleSize over $intervals', (c) => {
    const history = new HeartbeatHistory(c.maxSampleSize)
    for (const interval of c.intervals) history.add(interval)
    if (c.mean !== undefined) expect(Math.abs(history.mean - c.mean)).toBeLessThanOrEqual(c.tol)
    expect(Math.abs(history.variance - c.variance)).toBeLessThanOrEqual(c.tol)
    expect(history.size).toBe(Math.min(c.maxSampleSize, c.intervals.length))
  })
})

describe('PhiAccrualDetector sequences (Pekko AccrualFailureDetectorSpec)', () => {
  it.each(akka.sequences)('$name', (sequence) => {
    const detector = new PhiAccrualDetector(optionsFromSpec(sequence.config as Record<string, number>))
    const times = [...sequence.times]
    if (sequence.regularHeartbeats) {
      const { count, intervalMs } = sequence.regularHeartbeats
      for (let i = 0; i < count; i++) detector.heartbeat(i * intervalMs)
    }
    const saved = new Map<string, number>()
    const readClock = (): number => {
      const now = times.shift()
      if (now === undefined) throw new Error(`sequence '${sequence.name}' ran out of clock readings`)
      return now
    }
    for (const step of sequence.steps as SequenceStep[]) {
      switch (step.call) {
        case 'heartbeat':
          detector.heartbeat(readClock())
          break
        case 'isMonitoring':
          expect(detector.isMonitoring).toBe(step.expect)
          break
        case 'isAvailable':
          expect(detector.isAvailable(readClock()), `${step.call} expected ${String(step.expect)}`).toBe(
            step.expect,
          )
          break
        case 'phi': {
          const phi = detector.phi(readClock())
          if (typeof step.expect === 'number') {
            expect(Math.abs(phi - step.expect)).toBeLessThanOrEqual(step.tol ?? 0)
          }
          if (step.greaterThan !== undefined) expect(phi).toBeGreaterThan(step.greaterThan)
          if (step.save) saved.set(step.save, phi)
          if (step.equalsSaved) {
            expect(Math.abs(phi - saved.get(step.equalsSaved)!)).toBeLessThanOrEqual(step.tol ?? 0)
          }
          break
        }
        default:
          throw new Error(`unknown call ${step.call}`)
      }
    }
    expect(times, 'every clock reading was consumed').toEqual([])
  })
})

describe('levels and options', () => {
  it('maps phi to healthy, suspect and failed as suspicion rises', () => {
    const thresholds = { threshold: 8, suspectThreshold: 3 }
    expect(levelOf(0, thresholds)).toBe('healthy')
    expect(levelOf(2.99, thresholds)).toBe('healthy')
    expect(levelOf(3, thresholds)).toBe('suspect')
    expect(levelOf(7.99, thresholds)).toBe('suspect')
    expect(levelOf(8, thresholds)).toBe('failed')
  })

  it('reports rising levels as a silent peer stays silent', () => {
    const detector = new PhiAccrualDetector({ minStdDeviationMs: 10, firstHeartbeatEstimateMs: 100 })
    for (let t = 0; t <= 2000; t += 100) detector.heartbeat(t)
    const seen = new Set<string>()
    let previous = -1
    for (let t = 2000; t <= 3000; t += 5) {
      const phi = detector.phi(t)
      expect(phi).toBeGreaterThanOrEqual(previous)
      previous = phi
      seen.add(detector.level(t))
    }
    expect([...seen]).toEqual(['healthy', 'suspect', 'failed'])
  })

  it('refuses invalid options with a ConfigError naming the option', () => {
    expect(() => new PhiAccrualDetector({ threshold: 0 })).toThrow(ConfigError)
    expect(() => new PhiAccrualDetector({ threshold: 5, suspectThreshold: 6 })).toThrow(/suspectThreshold/)
    expect(() => new PhiAccrualDetector({ sampleSizeMax: 0 })).toThrow(/sampleSizeMax/)
    expect(() => new PhiAccrualDetector({ minStdDeviationMs: 0 })).toThrow(/minStdDeviationMs/)
    expect(() => new PhiAccrualDetector({ acceptableHeartbeatPauseMs: -1 })).toThrow(
      /acceptableHeartbeatPauseMs/,
    )
    expect(() => new PhiAccrualDetector({ firstHeartbeatEstimateMs: Number.NaN })).toThrow(/firstHeartbeat/)
  })
})
