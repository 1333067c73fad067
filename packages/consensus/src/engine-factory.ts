import type {
  ConsensusEngine,
  EngineMessageCodec,
  HardState,
  LogEntry,
  ReplicaId,
  Snapshot,
} from '@socketcloud/core'

/** What survived on disk, handed to the engine factory when a runtime starts. */
export interface RecoveredState {
  readonly id: ReplicaId
  readonly hardState: HardState | null
  /** Entries after the compaction point, in index order. */
  readonly entries: readonly LogEntry[]
  readonly compactedIndex: number
  readonly compactedTerm: number
  /** The newest snapshot, already restored into the state machine; null when none was saved. */
  readonly snapshot: Snapshot | null
  /** Index the state machine reflects (the snapshot's index, or 0): committed entries after it are re-applied. */
  readonly appliedIndex: number
}

/**
 * How the runtime builds and talks to one kind of engine. The runtime is generic; everything that
 * depends on the protocol (its constructor, its wire codec, how it encodes membership into a
 * snapshot) sits behind this seam. `raftEngineFactory` in this package is the Raft one.
 */
export interface EngineFactory<Message, Engine extends ConsensusEngine<Message> = ConsensusEngine<Message>> {
  readonly codec: EngineMessageCodec<Message>
  create(recovered: RecoveredState): Engine
  /**
   * The membership configuration as of `appliedIndex`, encoded as the engine expects in
   * `SnapshotMeta.membership`, for a snapshot the runtime takes of its state machine.
   */
  snapshotMembership(engine: Engine, appliedIndex: number): Uint8Array
}
