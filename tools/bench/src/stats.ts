import * as hdr from 'hdr-histogram-js'

/** Latency recorder over HdrHistogram: nanosecond resolution, 3 significant digits, up to 10 minutes. */
export class LatencyRecorder {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000_000,
    numberOfSignificantValueDigits: 3,
  })

  /** Records `count` operations that each took `nanoseconds` (one histogram update for all of them). */
  recordNanoseconds(nanoseconds: number, count = 1): void {
    const value = Math.max(1, Math.round(nanoseconds))
    if (count === 1) this.histogram.recordValue(value)
    else this.histogram.recordValueWithCount(value, count)
  }

  recordMicroseconds(microseconds: number): void {
    this.recordNanoseconds(microseconds * 1000)
  }

  get count(): number {
    return this.histogram.totalCount
  }

  percentileMicroseconds(percentile: number): number {
    return this.histogram.getValueAtPercentile(percentile) / 1000
  }

  meanMicroseconds(): number {
    return this.histogram.mean / 1000
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Nearest-rank percentile (`p` in 0–100) of plain values such as hop counts; 0 when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0
  const ascending = [...values].sort((a, b) => a - b)
  return ascending[Math.min(ascending.length - 1, Math.max(0, Math.ceil((p / 100) * ascending.length) - 1))]!
}
