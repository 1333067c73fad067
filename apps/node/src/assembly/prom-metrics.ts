import type {
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  Labels,
  Metrics,
  MetricOptions,
} from '@socketcloud/core'
import {
  Counter as PromCounter,
  Gauge as PromGauge,
  Histogram as PromHistogram,
  type Registry,
} from 'prom-client'

/**
 * Core's `Metrics` over a prom-client registry. Packages ask for their metrics by name; asking twice
 * for one name (two components of one kind in a process) returns the metric already registered,
 * because prom-client refuses a second registration of a name.
 */
export class PromMetrics implements Metrics {
  private readonly counters = new Map<string, Counter>()
  private readonly gauges = new Map<string, Gauge>()
  private readonly histograms = new Map<string, Histogram>()

  constructor(private readonly registry: Registry) {}

  counter(options: MetricOptions): Counter {
    return once(this.counters, options.name, () => {
      const metric = new PromCounter(this.base(options))
      return {
        inc: (labels?: Labels, value = 1) => (labels ? metric.inc(labels, value) : metric.inc(value)),
      }
    })
  }

  gauge(options: MetricOptions): Gauge {
    return once(this.gauges, options.name, () => {
      const metric = new PromGauge(this.base(options))
      return {
        set: (labels: Labels, value: number) => metric.set(labels, value),
        inc: (labels?: Labels, value = 1) => (labels ? metric.inc(labels, value) : metric.inc(value)),
        dec: (labels?: Labels, value = 1) => (labels ? metric.dec(labels, value) : metric.dec(value)),
      }
    })
  }

  histogram(options: HistogramOptions): Histogram {
    return once(this.histograms, options.name, () => {
      const metric = new PromHistogram({
        ...this.base(options),
        ...(options.buckets ? { buckets: [...options.buckets] } : {}),
      })
      return { observe: (labels: Labels, value: number) => metric.observe(labels, value) }
    })
  }

  private base(options: MetricOptions) {
    const taken = this.registry.getSingleMetric(options.name)
    if (taken) throw new TypeError(`metric ${options.name} is already registered as another kind`)
    return {
      name: options.name,
      help: options.help,
      labelNames: [...(options.labelNames ?? [])],
      registers: [this.registry],
    }
  }
}

function once<T>(made: Map<string, T>, name: string, make: () => T): T {
  let metric = made.get(name)
  if (!metric) {
    metric = make()
    made.set(name, metric)
  }
  return metric
}
