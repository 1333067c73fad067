import { assert, checkLimit, checkNumber } from '@socketcloud/core'

/** 1 / ln(10): turns the exponential model's raw ratio into a base-10 phi, as Cassandra's PHI_FACTOR. */
export const PHI_FACTOR = 1 / Math.LN10

export interface ExponentialAccrualOptions {
  /** Inter-arrival samples kept. Cassandra's SAMPLE_SIZE. @default 1000 */
  readonly sampleSizeMax?: number
  /** Sample recorded on the first report, before any interval is known (Cassandra: 2 × gossip interval). @default 2000 */
  readonly initialIntervalMs?: number
  /** Intervals longer than this are not recorded (Cassandra's MAX_INTERVAL). @default initialIntervalMs */
  readonly intervalMaxMs?: number
}

/**
 * Cassandra's accrual model (`FailureDetector.ArrivalWindow`): inter-arrival times are assumed
 * exponentially distributed, so phi = -log10(e^(-Δt/mean)) = PHI_FACTOR · Δt/mean. It reacts linearly
 * to silence and ignores variance, which makes it less sensitive to jitter than the normal model but
 * slower to react on regular networks. Offered as an alternative model; the membership protocol uses
 * {@link PhiAccrualDetector}.
 */
export class ExponentialAccrualDetector {
  readonly sampleSizeMax: number
  readonly initialIntervalMs: number
  readonly intervalMaxMs: number
  private readonly intervals: number[] = []
  private head = 0
  private sum = 0
  private lastReportAtMs: number | undefined

  constructor(options: ExponentialAccrualOptions = {}) {
    this.sampleSizeMax = checkLimit('sampleSizeMax', options.sampleSizeMax ?? 1000)
    this.initialIntervalMs = checkNumber(
      'initialIntervalMs',
      options.initialIntervalMs ?? 2000,
      Number.MIN_VALUE,
    )
    this.intervalMaxMs = checkNumber('intervalMaxMs', options.intervalMaxMs ?? this.initialIntervalMs)
  }

  report(nowMs: number): void {
    const last = this.lastReportAtMs
    if (last === undefined) {
      // A deliberately large first guess errs towards false negatives, which waiting corrects,
      // rather than false positives, which make members flap.
      this.record(this.initialIntervalMs)
    } else {
      const interval = nowMs - last
      if (interval >= 0 && interval <= this.intervalMaxMs) this.record(interval)
    }
    this.lastReportAtMs = nowMs
  }

  /** Δt / mean, Cassandra's unscaled value; 0 before the first report. */
  phiRaw(nowMs: number): number {
    const last = this.lastReportAtMs
    if (last === undefined) return 0
    const mean = this.sum / this.intervals.length
    assert(mean > 0, 'mean interval must be positive once a report has been seen')
    return Math.max(0, nowMs - last) / mean
  }

  /** Base-10 phi, comparable with the normal model's phi and with Cassandra's convict threshold. */
  phi(nowMs: number): number {
    return PHI_FACTOR * this.phiRaw(nowMs)
  }

  private record(intervalMs: number): void {
    if (this.intervals.length < this.sampleSizeMax) {
      this.intervals.push(intervalMs)
    } else {
      this.sum -= this.intervals[this.head]!
      this.intervals[this.head] = intervalMs
      this.head = (this.head + 1) % this.sampleSizeMax
    }
    this.sum += intervalMs
  }
}
