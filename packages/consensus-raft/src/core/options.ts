import { checkLimit, ConfigError } from '@socketcloud/core'

/** Tunables of the Raft engine. Durations are in ticks; every limit has a default and is checked. */
export interface RaftOptions {
  /**
   * A follower that hears no leader for a random number of ticks in [electionTimeoutTicks,
   * 2 × electionTimeoutTicks) starts an election. A leader with CheckQuorum steps down when it has not
   * heard from a majority within one electionTimeoutTicks. @default 10
   */
  readonly electionTimeoutTicks: number
  /** A leader sends heartbeats every heartbeatTicks; must be below electionTimeoutTicks. @default 1 */
  readonly heartbeatTicks: number
  /** Ask for pre-votes before incrementing the term, so a partitioned node cannot disrupt. @default true */
  readonly preVote: boolean
  /** A leader that has not heard from a majority within an election timeout steps down. @default true */
  readonly checkQuorum: boolean
  /** AppendEntries messages in flight per follower in the replicate state. @default 256 */
  readonly inflightMessagesMax: number
  /** Entries in one AppendEntries. @default 4096 */
  readonly entriesPerAppendMax: number
  /** Payload bytes in one AppendEntries (one larger entry is still sent alone). @default 1 MiB */
  readonly bytesPerAppendMax: number
  /** Bytes of snapshot data in one InstallSnapshot chunk. @default 1 MiB */
  readonly snapshotChunkBytesMax: number
  /** Largest snapshot a follower accepts. @default 1 GiB */
  readonly snapshotBytesMax: number
  /** Bytes of proposed but uncommitted entries a leader holds before refusing proposals (`overloaded`). @default 64 MiB */
  readonly uncommittedEntriesBytesMax: number
  /** Largest single proposal (`too-large` above). @default 1 MiB */
  readonly proposalBytesMax: number
  /** ReadIndex requests waiting for confirmation (`overloaded` above). @default 65536 */
  readonly readsPendingMax: number
  /** Committed entries handed to the driver in one Ready. @default 16384 */
  readonly committedEntriesPerReadyMax: number
  /** A learner may be promoted once its log is at most this many entries behind the leader's commit. @default 128 */
  readonly learnerLagEntriesMax: number
  /**
   * Serve reads from a leader lease instead of a heartbeat round. Requires checkQuorum. Clock
   * assumption: every replica's tick rate is within one tick per election timeout of the leader's,
   * because the lease rests on followers refusing votes for an election timeout after hearing from
   * the leader. Clock drift beyond that can return stale reads. @default false
   */
  readonly leaseReads: boolean
}

export const defaultRaftOptions: RaftOptions = Object.freeze({
  electionTimeoutTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  inflightMessagesMax: 256,
  entriesPerAppendMax: 4096,
  bytesPerAppendMax: 1024 * 1024,
  snapshotChunkBytesMax: 1024 * 1024,
  snapshotBytesMax: 1024 * 1024 * 1024,
  uncommittedEntriesBytesMax: 64 * 1024 * 1024,
  proposalBytesMax: 1024 * 1024,
  readsPendingMax: 65_536,
  committedEntriesPerReadyMax: 16_384,
  learnerLagEntriesMax: 128,
  leaseReads: false,
})

/** Fills defaults and validates; throws ConfigError naming the first bad option. */
export function resolveRaftOptions(options: Partial<RaftOptions> = {}): RaftOptions {
  const resolved: RaftOptions = { ...defaultRaftOptions, ...options }
  checkLimit('electionTimeoutTicks', resolved.electionTimeoutTicks, 2, 1_000_000)
  checkLimit('heartbeatTicks', resolved.heartbeatTicks, 1, resolved.electionTimeoutTicks - 1)
  checkLimit('inflightMessagesMax', resolved.inflightMessagesMax, 1, 1_000_000)
  checkLimit('entriesPerAppendMax', resolved.entriesPerAppendMax, 1, 10_000_000)
  checkLimit('bytesPerAppendMax', resolved.bytesPerAppendMax, 1)
  checkLimit('snapshotChunkBytesMax', resolved.snapshotChunkBytesMax, 1)
  checkLimit('snapshotBytesMax', resolved.snapshotBytesMax, 1)
  checkLimit('uncommittedEntriesBytesMax', resolved.uncommittedEntriesBytesMax, 1)
  checkLimit('proposalBytesMax', resolved.proposalBytesMax, 1)
  checkLimit('readsPendingMax', resolved.readsPendingMax, 1)
  checkLimit('committedEntriesPerReadyMax', resolved.committedEntriesPerReadyMax, 1)
  checkLimit('learnerLagEntriesMax', resolved.learnerLagEntriesMax, 0)
  for (const flag of ['preVote', 'checkQuorum', 'leaseReads'] as const) {
    if (typeof resolved[flag] !== 'boolean') {
      throw new ConfigError(`${flag} must be a boolean`, { option: flag, value: resolved[flag] })
    }
  }
  if (resolved.leaseReads && !resolved.checkQuorum) {
    throw new ConfigError('leaseReads requires checkQuorum: the lease rests on the quorum check', {
      option: 'leaseReads',
    })
  }
  return resolved
}
