import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** The API's Prometheus metrics, registered in the node's registry. */
export class HttpMetrics {
  readonly requests: Counter<'route' | 'method' | 'status'>
  readonly duration: Histogram<'route' | 'method' | 'status'>
  readonly refused: Counter<'reason'>
  readonly connections: Gauge
  readonly watchers: Gauge
  readonly watchEvents: Counter

  constructor(registry: Registry) {
    const registers = [registry]
    this.requests = new Counter({
      name: 'socketcloud_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    })
    this.duration = new Histogram({
      name: 'socketcloud_http_request_duration_seconds',
      help: 'Time from request to response, by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    })
    this.refused = new Counter({
      name: 'socketcloud_http_refused_total',
      help: 'Connections, requests and watches refused at the boundary, by reason',
      labelNames: ['reason'],
      registers,
    })
    this.connections = new Gauge({
      name: 'socketcloud_http_connections',
      help: 'Open HTTP and WebSocket connections',
      registers,
    })
    this.watchers = new Gauge({ name: 'socketcloud_watchers', help: 'Open watches', registers })
    this.watchEvents = new Counter({
      name: 'socketcloud_watch_events_sent_total',
      help: 'Watch frames sent to clients',
      registers,
    })
  }
}
