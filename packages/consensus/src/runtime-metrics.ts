import type { Counter, Histogram, Metrics } from '@socketcloud/core'

/** The runtime's metrics, named `socketcloud_consensus_<what>_<unit>`. */
export interface RuntimeMetrics {
  readonly refused: Counter
  readonly applied: Counter
  readonly proposals: Counter
  readonly forwards: Counter
  readonly sendFailures: Counter
  readonly snapshots: Counter
  readonly malformedEntries: Counter
  readonly requestLatency: Histogram
}

export function createRuntimeMetrics(metrics: Metrics): RuntimeMetrics {
  return {
    refused: metrics.counter({
      name: 'socketcloud_consensus_messages_refused_total',
      help: 'Inbound messages refused at the boundary, by reason',
      labelNames: ['reason'],
    }),
    applied: metrics.counter({
      name: 'socketcloud_consensus_entries_applied_total',
      help: 'Committed entries applied',
    }),
    proposals: metrics.counter({
      name: 'socketcloud_consensus_proposals_total',
      help: 'Entries proposed to the local engine, by operation',
      labelNames: ['operation'],
    }),
    forwards: metrics.counter({
      name: 'socketcloud_consensus_forwards_total',
      help: 'Requests forwarded to the leader',
    }),
    sendFailures: metrics.counter({
      name: 'socketcloud_consensus_send_failures_total',
      help: 'Messages the transport did not accept, by error code',
      labelNames: ['code'],
    }),
    snapshots: metrics.counter({ name: 'socketcloud_consensus_snapshots_total', help: 'Snapshots taken' }),
    malformedEntries: metrics.counter({
      name: 'socketcloud_consensus_malformed_entries_total',
      help: 'Committed entries whose runtime envelope failed to decode (applied as no-ops)',
    }),
    requestLatency: metrics.histogram({
      name: 'socketcloud_consensus_request_duration_ms',
      help: 'Time from submit/read to its outcome',
      labelNames: ['kind', 'outcome'],
    }),
  }
}
