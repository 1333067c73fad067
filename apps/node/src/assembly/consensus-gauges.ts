import type { EngineStatus } from '@socketcloud/core'
import { Gauge, type Registry } from 'prom-client'

/**
 * Gauges read from the consensus runtime when Prometheus scrapes (prom-client's `collect`), so they
 * cost nothing between scrapes and are never stale: term, commit and applied index, apply lag,
 * whether this node leads, and the configuration's size.
 */
export function registerConsensusGauges(
  registry: Registry,
  status: () => EngineStatus & { readonly appliedIndex: number },
): void {
  const gauge = (name: string, help: string, read: (current: ReturnType<typeof status>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(status()))
      },
    })
  gauge('socketcloud_raft_term', 'Current Raft term', (current) => current.term)
  gauge(
    'socketcloud_raft_commit_index',
    'Highest log index known to be committed',
    (current) => current.commitIndex,
  )
  gauge(
    'socketcloud_raft_applied_index',
    'Highest log index applied to the state machine',
    (current) => current.appliedIndex,
  )
  gauge('socketcloud_raft_apply_lag_entries', 'Committed entries not yet applied on this node', (current) =>
    Math.max(0, current.commitIndex - current.appliedIndex),
  )
  gauge('socketcloud_raft_is_leader', '1 when this node is the Raft leader', (current) =>
    current.leader === current.id ? 1 : 0,
  )
  gauge('socketcloud_raft_voters', 'Voters in the current configuration', (current) => current.voters.length)
  gauge(
    'socketcloud_raft_learners',
    'Learners in the current configuration',
    (current) => current.learners.length,
  )
}
