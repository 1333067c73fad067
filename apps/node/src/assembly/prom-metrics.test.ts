import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { PromMetrics } from './prom-metrics'

describe('PromMetrics', () => {
  it('exposes counters, gauges and histograms in the Prometheus text format', async () => {
    const registry = new Registry()
    const metrics = new PromMetrics(registry)
    metrics.counter({ name: 'test_sent_total', help: 'sent', labelNames: ['peer'] }).inc({ peer: 'a' }, 2)
    metrics.counter({ name: 'test_plain_total', help: 'plain' }).inc()
    const gauge = metrics.gauge({ name: 'test_depth', help: 'depth', labelNames: ['peer'] })
    gauge.set({ peer: 'a' }, 5)
    gauge.dec({ peer: 'a' })
    metrics
      .histogram({ name: 'test_ms', help: 'ms', labelNames: ['kind'], buckets: [1, 10] })
      .observe({ kind: 'x' }, 3)
    const text = await registry.metrics()
    expect(text).toContain('test_sent_total{peer="a"} 2')
    expect(text).toContain('test_plain_total 1')
    expect(text).toContain('test_depth{peer="a"} 4')
    expect(text).toContain('test_ms_bucket{le="10",kind="x"} 1')
  })

  it('returns the same metric when a second component asks for the same name', () => {
    const registry = new Registry()
    const metrics = new PromMetrics(registry)
    const first = metrics.counter({ name: 'test_shared_total', help: 'shared' })
    const second = metrics.counter({ name: 'test_shared_total', help: 'shared' })
    first.inc()
    second.inc()
    expect(first).toBe(second)
    expect(() => metrics.gauge({ name: 'test_shared_total', help: 'shared' })).toThrow(/another kind/)
  })
})
