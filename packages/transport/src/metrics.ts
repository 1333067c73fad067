import type { Counter, Gauge, Metrics } from '@socketcloud/core'

/**
 * The transport's metrics, created once per transport through core's Metrics hook. Hot paths count
 * per batch (a read chunk, a flush), not per message, so metrics stay cheap at high message rates.
 */
export class TransportMetrics {
  /**
   * Frame bytes received / written (stream frames without their 4-byte header; whole datagrams for
   * UDP). Inbound stream counts are reported on each liveness sweep and when a connection closes.
   * Labels: protocol.
   */
  readonly bytesIn: Counter
  readonly bytesOut: Counter
  readonly messagesIn: Counter
  readonly messagesOut: Counter
  /** Frames or datagrams refused as malformed, oversized or truncated. Labels: protocol, reason. */
  readonly badFrames: Counter
  /** Datagrams dropped (oversized, malformed, from a peer beyond the limit). Labels: reason. */
  readonly datagramsDropped: Counter
  /** Connections refused or closed at the boundary. Labels: protocol, reason. */
  readonly connectionsRefused: Counter
  /** Handshakes that failed or timed out. Labels: protocol, reason. */
  readonly handshakeFailures: Counter
  /** `send` calls answered with BACKPRESSURE. */
  readonly backpressure: Counter
  readonly reconnectAttempts: Counter
  /** Keepalives received. Labels: protocol. */
  readonly keepalivesIn: Counter
  /** Live, upgraded connections. Labels: protocol. */
  readonly connectionsOpen: Gauge

  constructor(metrics: Metrics) {
    const counter = (name: string, help: string, labelNames: readonly string[] = []): Counter =>
      metrics.counter({ name: `socketcloud_transport_${name}`, help, labelNames })
    this.bytesIn = counter('bytes_in_total', 'Frame bytes received', ['protocol'])
    this.bytesOut = counter('bytes_out_total', 'Frame bytes sent', ['protocol'])
    this.messagesIn = counter('messages_in_total', 'Messages delivered to the application', ['protocol'])
    this.messagesOut = counter('messages_out_total', 'Messages written to sockets', ['protocol'])
    this.badFrames = counter('bad_frames_total', 'Frames refused at the boundary', ['protocol', 'reason'])
    this.datagramsDropped = counter('datagrams_dropped_total', 'Inbound datagrams dropped', ['reason'])
    this.connectionsRefused = counter(
      'connections_refused_total',
      'Connections refused or cut at the boundary',
      ['protocol', 'reason'],
    )
    this.handshakeFailures = counter('handshake_failures_total', 'Upgrades that failed', [
      'protocol',
      'reason',
    ])
    this.backpressure = counter('backpressure_total', 'send() calls refused because a queue was full')
    this.reconnectAttempts = counter('reconnect_attempts_total', 'Reconnect attempts scheduled')
    this.keepalivesIn = counter('keepalives_in_total', 'Keepalives received', ['protocol'])
    this.connectionsOpen = metrics.gauge({
      name: 'socketcloud_transport_connections_open',
      help: 'Live upgraded connections',
      labelNames: ['protocol'],
    })
  }
}
