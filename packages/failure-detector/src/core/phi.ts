import { assert, checkLimit, checkNumber } from '@socketcloud/core'

/**
 * Phi accrual failure detection (Hayashibara, Défago, Yared and Katayama, "The φ Accrual Failure
 * Detector", 2004), with the semantics of Akka/Pekko's `PhiAccrualFailureDetector`: inter-arrival
 * times are kept in a sliding window, modelled as a normal distribution whose mean is shifted by an
 * acceptable pause and whose standard deviation has a floor, and phi is computed with the logistic
 * approximation of the normal CDF. Time is always passed in (milliseconds); nothing here reads a clock.
 */

/**
 * phi = -log10(1 - F(timeDiff)) where F is the normal CDF with the given mean and standard deviation,
 * approximated by the logistic function 1 / (1 + e^(-y (1.5976 + 0.070566 y^2))) (Bowling et al.,
 * 2009; error below 1.4e-4). The two branches keep precision on both tails: far beyond the mean the
 * result stays finite up to y ≈ 20 instead of collapsing to -log10(0).
 */
export function phiOf(timeDiffMs: number, meanMs: number, stdDeviationMs: number): number {
  assert(stdDeviationMs > 0, 'standard deviation must be positive')
  const y = (timeDiffMs - meanMs) / stdDeviationMs
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y))
  const phi = timeDiffMs > meanMs ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e))
  // -log10(1) is -0; callers compare with thresholds and print values, so normalise it.
  return phi === 0 ? 0 : phi
}

/** The CDF value a phi stands for: phi = -log10(1 - cdf). */
export function cdfOfPhi(phi: number): number {
  return 1 - Math.pow(10, -phi)
}

/**
 * The newest `sampleSizeMax` inter-arrival intervals, with a running sum and sum of squares so the
 * mean and (population) variance cost O(1) per heartbeat.
 */
export class HeartbeatHistory {
  readonly sampleSizeMax: number
  private readonly intervals: number[] = []
  private head = 0
  private sum = 0
  private squaredSum = 0

  constructor(sampleSizeMax: number) {
    this.sampleSizeMax = checkLimit('sampleSizeMax', sampleSizeMax)
  }

  add(intervalMs: number): void {
    assert(Number.isFinite(intervalMs) && intervalMs >= 0, 'interval must be a non-negative finite number')
    if (this.intervals.length < this.sampleSizeMax) {
      this.intervals.push(intervalMs)
    } else {
      const evicted = this.intervals[this.head]!
      this.sum -= evicted
      this.squaredSum -= evicted * evicted
      this.intervals[this.head] = intervalMs
      this.head = (this.head + 1) % this.sampleSizeMax
    }
    this.sum += intervalMs
    this.squaredSum += intervalMs * intervalMs
  }

  get size(): number {
    return this.intervals.length
  }

  get mean(): number {
    assert(this.intervals.length > 0, 'mean of an empty history')
    return this.sum / this.intervals.length
  }

  get variance(): number {
    const mean = this.mean
    // Rounding in the running sums can leave a tiny negative value for a constant series.
    return Math.max(0, this.squaredSum / this.intervals.length - mean * mean)
  }

  get stdDeviation(): number {
    return Math.sqrt(this.variance)
  }
}

/** What a phi value means to a caller: suspicion rises gradually from healthy through suspect to failed. */
export type HealthLevel = 'healthy' | 'suspect' | 'failed'

export interface PhiAccrualOptions {
  /** Phi at or above which the peer is `failed` (unavailable). Akka's default. @default 8 */
  readonly threshold?: number
  /** Phi at or above which the peer is `suspect`; must not exceed `threshold`. @default 3 */
  readonly suspectThreshold?: number
  /** Inter-arrival samples kept. @default 1000 */
  readonly sampleSizeMax?: number
  /** Floor for the standard deviation, so a very regular peer is not failed by one late heartbeat. @default 100 */
  readonly minStdDeviationMs?: number
  /** Pause tolerated on top of the mean interval before phi starts to rise steeply. @default 0 */
  readonly acceptableHeartbeatPauseMs?: number
  /** Interval assumed before two heartbeats have been seen; seeds the history with m ± m/4. @default 1000 */
  readonly firstHeartbeatEstimateMs?: number
}

export const PHI_ACCRUAL_DEFAULTS = Object.freeze({
  threshold: 8,
  suspectThreshold: 3,
  sampleSizeMax: 1000,
  minStdDeviationMs: 100,
  acceptableHeartbeatPauseMs: 0,
  firstHeartbeatEstimateMs: 1000,
})

export type ResolvedPhiAccrualOptions = { readonly [K in keyof typeof PHI_ACCRUAL_DEFAULTS]: number }

export function resolvePhiAccrualOptions(options: PhiAccrualOptions = {}): ResolvedPhiAccrualOptions {
  const resolved = { ...PHI_ACCRUAL_DEFAULTS, ...stripUndefined(options) }
  checkNumber('threshold', resolved.threshold, Number.MIN_VALUE)
  checkNumber('suspectThreshold', resolved.suspectThreshold, 0, resolved.threshold)
  checkLimit('sampleSizeMax', resolved.sampleSizeMax)
  checkNumber('minStdDeviationMs', resolved.minStdDeviationMs, Number.MIN_VALUE)
  checkNumber('acceptableHeartbeatPauseMs', resolved.acceptableHeartbeatPauseMs)
  checkNumber('firstHeartbeatEstimateMs', resolved.firstHeartbeatEstimateMs, Number.MIN_VALUE)
  return resolved
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

/**
 * One monitored peer's detector. `heartbeat(now)` records an arrival, `phi(now)` says how unlikely it
 * is that the peer is still alive given the silence so far. As in Akka, the interval that ends a
 * period of unavailability is not recorded, so a long outage does not teach the detector to tolerate
 * long outages.
 */
export class PhiAccrualDetector {
  readonly options: ResolvedPhiAccrualOptions
  private history: HeartbeatHistory
  private lastHeartbeatAtMs: number | undefined

  constructor(options: PhiAccrualOptions = {}) {
    this.options = resolvePhiAccrualOptions(options)
    this.history = new HeartbeatHistory(this.options.sampleSizeMax)
  }

  /** True once a heartbeat has been seen. */
  get isMonitoring(): boolean {
    return this.lastHeartbeatAtMs !== undefined
  }

  get lastHeartbeatAt(): number | undefined {
    return this.lastHeartbeatAtMs
  }

  heartbeat(nowMs: number): void {
    const last = this.lastHeartbeatAtMs
    if (last === undefined) {
      this.history = this.firstHeartbeatHistory()
    } else if (this.isAvailable(nowMs)) {
      this.history.add(Math.max(0, nowMs - last))
    }
    this.lastHeartbeatAtMs = nowMs
  }

  phi(nowMs: number): number {
    const last = this.lastHeartbeatAtMs
    if (last === undefined) return 0
    const meanMs = this.history.mean + this.options.acceptableHeartbeatPauseMs
    const stdDeviationMs = Math.max(this.history.stdDeviation, this.options.minStdDeviationMs)
    return phiOf(nowMs - last, meanMs, stdDeviationMs)
  }

  isAvailable(nowMs: number): boolean {
    return this.phi(nowMs) < this.options.threshold
  }

  level(nowMs: number): HealthLevel {
    return levelOf(this.phi(nowMs), this.options)
  }

  /** Current mean and standard deviation of the window (before the pause and the floor are applied). */
  statistics(): { readonly meanMs: number; readonly stdDeviationMs: number; readonly samples: number } {
    return {
      meanMs: this.history.mean,
      stdDeviationMs: this.history.stdDeviation,
      samples: this.history.size,
    }
  }

  private firstHeartbeatHistory(): HeartbeatHistory {
    const estimate = this.options.firstHeartbeatEstimateMs
    // Akka seeds the window with estimate ± estimate/4 (integer division on millisecond longs), which
    // gives a standard deviation of estimate/4 until real intervals replace the guesses.
    const quarter = Math.floor(estimate / 4)
    const history = new HeartbeatHistory(this.options.sampleSizeMax)
    history.add(estimate - quarter)
    history.add(estimate + quarter)
    return history
  }
}

export function levelOf(
  phi: number,
  thresholds: { readonly threshold: number; readonly suspectThreshold: number },
): HealthLevel {
  if (phi >= thresholds.threshold) return 'failed'
  if (phi >= thresholds.suspectThreshold) return 'suspect'
  return 'healthy'
}
