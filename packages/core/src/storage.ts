/**
 * What consensus engines persist, and the stores that hold it. Implemented on files by
 * `@socketcloud/storage` and in memory / on a simulated disk by `@socketcloud/sim`; called only by
 * the consensus driver (`@socketcloud/consensus`), never by engines, which stay pure.
 */

import type { BytesOrParts } from './codec/bytes-in-parts'

/** Opaque, stable identifier of a replica inside one consensus group (NodeId hex in deployments). */
export type ReplicaId = string

/**
 * `command`: application data for the state machine. `config`: a membership change, encoded by the
 * engine. `noop`: written by a new leader/primary to commit entries of earlier terms.
 */
export type EntryKind = 'command' | 'config' | 'noop'

export interface LogEntry {
  /** Position in the log, from 1, contiguous. Raft index; PBFT sequence number; Tendermint height. */
  readonly index: number
  /** Raft term; PBFT view; Tendermint round of the height's commit. */
  readonly term: number
  readonly kind: EntryKind
  readonly data: Uint8Array
}

/** State that must survive a crash before any message that depends on it is sent. */
export interface HardState {
  /** Raft term; PBFT view; Tendermint height. */
  readonly term: number
  /** Raft: candidate voted for in `term`. Others: null. */
  readonly vote: ReplicaId | null
  /** Highest index known committed (may lag; never ahead of the truth). */
  readonly commit: number
  /** Engine-specific durable state (PBFT prepared certificates, Tendermint lock), encoded by the engine. */
  readonly extra?: Uint8Array
}

export interface SnapshotMeta {
  /** Last log index the snapshot covers. */
  readonly index: number
  /** Term of that entry. */
  readonly term: number
  /** The membership configuration as of `index`, encoded by the engine. */
  readonly membership: Uint8Array
}

export interface Snapshot {
  readonly meta: SnapshotMeta
  /**
   * The state machine's `snapshot()` output (plus whatever the driver layers on, such as sessions).
   * A snapshot the driver took itself may arrive as the pieces it was encoded in (so a large state is
   * never joined into one buffer on its way to disk and to followers); one loaded from a store or
   * received from a leader is one array. `joinedBytes` and `sliceBytes` read either.
   */
  readonly data: BytesOrParts
}

export interface LogState {
  readonly hardState: HardState | null
  /** Entries after the compaction point, contiguous and in index order. */
  readonly entries: readonly LogEntry[]
  /** Index of the last entry discarded by `compact` (0 when nothing was compacted). */
  readonly compactedIndex: number
  readonly compactedTerm: number
}

export interface LogWrite {
  readonly hardState?: HardState
  /**
   * Contiguous entries. An entry whose index is already stored replaces that entry and every entry
   * after it (Raft's truncation of a conflicting suffix). The first index may be at most last + 1.
   */
  readonly entries?: readonly LogEntry[]
}

/**
 * The write-ahead log plus hard state.
 *
 * Ordering: writes apply in call order. Durability: with `sync: true` the promise resolves only
 * after this write and every earlier one is durable; implementations merge concurrent syncs into one
 * fsync (group commit). With `sync: false` the data may be lost by a crash. A failed write rejects
 * with StorageError and the store must not be used further (the node must restart and reload).
 */
export interface LogStore {
  load(): Promise<LogState>
  write(update: LogWrite, options: { readonly sync: boolean }): Promise<void>
  /**
   * Discards entries up to and including `index`, whose term is `term` (covered by a snapshot). When
   * the log does not reach `index`, or holds another term there, every entry is discarded: the
   * snapshot replaces the log (this is how a follower installs a leader's snapshot).
   */
  compact(index: number, term: number): Promise<void>
  close(): Promise<void>
}

/**
 * Snapshots, written atomically: `save` resolves after the snapshot is durable and complete (written
 * aside, synced, renamed); `load` returns the newest snapshot that passes its checksum, or null.
 */
export interface SnapshotStore {
  save(snapshot: Snapshot): Promise<void>
  load(): Promise<Snapshot | null>
  close(): Promise<void>
}
