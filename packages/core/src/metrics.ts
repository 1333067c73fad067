/**
 * The metrics hook. Packages create their metrics through a `Metrics` factory passed in their
 * components; the node app implements it over a prom-client registry (prom-client's Counter, Gauge
 * and Histogram objects satisfy the shapes below), tests use `MemoryMetrics`, libraries default to
 * `noopMetrics`. Names follow Prometheus conventions: `socketcloud_<package>_<what>_<unit>`.
 */
export type Labels = Readonly<Record<string, string | number>>

export interface Counter {
  inc(labels?: Labels, value?: number): void
}
export interface Gauge {
  set(labels: Labels, value: number): void
  inc(labels?: Labels, value?: number): void
  dec(labels?: Labels, value?: number): void
}
export interface Histogram {
  observe(labels: Labels, value: number): void
}

export interface MetricOptions {
  readonly name: string
  readonly help: string
  readonly labelNames?: readonly string[]
}
export interface HistogramOptions extends MetricOptions {
  readonly buckets?: readonly number[]
}

export interface Metrics {
  counter(options: MetricOptions): Counter
  gauge(options: MetricOptions): Gauge
  histogram(options: HistogramOptions): Histogram
}

const noopCounter: Counter = { inc: () => undefined }
const noopGauge: Gauge = { set: () => undefined, inc: () => undefined, dec: () => undefined }
const noopHistogram: Histogram = { observe: () => undefined }
export const noopMetrics: Metrics = {
  counter: () => noopCounter,
  gauge: () => noopGauge,
  histogram: () => noopHistogram,
}

function labelKey(labels: Labels | undefined): string {
  if (!labels) return ''
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${String(labels[key])}`)
    .join(',')
}

/**
 * In-memory metrics for tests and embedded use: `value('name', {label: 'x'})` reads a counter or
 * gauge, `observations('name')` a histogram's samples.
 */
export class MemoryMetrics implements Metrics {
  private readonly values = new Map<string, Map<string, number>>()
  private readonly samples = new Map<string, Map<string, number[]>>()

  counter(options: MetricOptions): Counter {
    const series = this.series(options.name)
    return {
      inc: (labels, value = 1) => {
        const key = labelKey(labels)
        series.set(key, (series.get(key) ?? 0) + value)
      },
    }
  }

  gauge(options: MetricOptions): Gauge {
    const series = this.series(options.name)
    return {
      set: (labels, value) => series.set(labelKey(labels), value),
      inc: (labels, value = 1) => series.set(labelKey(labels), (series.get(labelKey(labels)) ?? 0) + value),
      dec: (labels, value = 1) => series.set(labelKey(labels), (series.get(labelKey(labels)) ?? 0) - value),
    }
  }

  histogram(options: HistogramOptions): Histogram {
    let series = this.samples.get(options.name)
    if (!series) {
      series = new Map()
      this.samples.set(options.name, series)
    }
    const target = series
    return {
      observe: (labels, value) => {
        const key = labelKey(labels)
        const list = target.get(key) ?? []
        list.push(value)
        target.set(key, list)
      },
    }
  }

  /** Current value of a counter or gauge series; 0 when never touched. */
  value(name: string, labels?: Labels): number {
    return this.values.get(name)?.get(labelKey(labels)) ?? 0
  }

  /** Sum over every label combination of a counter. */
  total(name: string): number {
    let sum = 0
    for (const value of this.values.get(name)?.values() ?? []) sum += value
    return sum
  }

  observations(name: string, labels?: Labels): readonly number[] {
    return this.samples.get(name)?.get(labelKey(labels)) ?? []
  }

  private series(name: string): Map<string, number> {
    let series = this.values.get(name)
    if (!series) {
      series = new Map()
      this.values.set(name, series)
    }
    return series
  }
}
