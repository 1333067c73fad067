import type { HardState, LogEntry, ReplicaId, Snapshot } from './storage'

/** A message for one peer, produced by an engine. */
export interface OutboundMessage<Message> {
  readonly to: ReplicaId
  readonly message: Message
}

/** A linearizable read point: once the applied index reaches `index`, a read tagged `context` may be served. */
export interface ReadState {
  readonly context: string
  readonly index: number
}

/** Observable state of an engine; emitted in `Ready.status` when it changes. */
export interface EngineStatus {
  readonly id: ReplicaId
  /** Engine-specific role: Raft `leader`/`follower`/`candidate`/`pre-candidate`; PBFT `primary`/`backup`; Tendermint `proposer`/`validator`. */
  readonly role: string
  /** The replica that currently orders commands, when known. */
  readonly leader: ReplicaId | null
  /** Raft term, PBFT view, Tendermint height. */
  readonly term: number
  readonly commitIndex: number
  readonly voters: readonly ReplicaId[]
  readonly learners: readonly ReplicaId[]
}

/**
 * Everything an engine wants done, in the order it must be done (etcd's Ready):
 *
 * 0. Send `messagesBeforePersist` (if any). They may go out before this Ready's writes are durable,
 *    or even if they never become durable (a crash in between), because they promise nothing about
 *    this replica's storage: e.g. a Raft leader's appends to followers, which may carry entries the
 *    leader is writing right now (Ongaro's thesis §10.2.1). The engine counts its own copy of those
 *    entries only once `advance(ready)` confirms the write.
 * 1. Persist `snapshot` (if any), then `entries` and `hardState` — durably when `mustSync` — BEFORE
 *    sending `messages`, because a vote or an acknowledgement promises that this state survives.
 * 2. Send `messages`.
 * 3. Restore the state machine from `snapshot` (if any), then apply `committed` in order.
 * 4. Serve reads in `reads` once the applied index reaches theirs.
 * 5. Call `advance(ready)` — only once step 1 is durable; it tells the engine so.
 *
 * A driver may feed the engine new inputs (`step`, `tick`, `propose`) while it waits on step 1, but
 * must not call `ready()` again before `advance`. Nothing in a Ready is repeated by the next one; a
 * driver that fails a step must stop the node.
 */
export interface Ready<Message> {
  readonly hardState: HardState | null
  readonly entries: readonly LogEntry[]
  readonly snapshot: Snapshot | null
  readonly mustSync: boolean
  readonly messages: readonly OutboundMessage<Message>[]
  /**
   * Messages that may be sent before (and regardless of) the persistence of this Ready (step 0).
   * Absent or empty for engines that do not distinguish; a driver may always send them with
   * `messages` instead, after persisting, at the cost of latency.
   */
  readonly messagesBeforePersist?: readonly OutboundMessage<Message>[]
  readonly committed: readonly LogEntry[]
  readonly reads: readonly ReadState[]
  /** Proposals the engine gave up on (leader lost before they were appended anywhere), by proposal context. */
  readonly dropped: readonly string[]
  readonly status: EngineStatus | null
}

export type ProposeResult =
  | { readonly ok: true }
  | {
      readonly ok: false
      readonly reason:
        'not-leader' | 'no-leader' | 'too-large' | 'overloaded' | 'unsupported' | 'transferring'
      /** Where to send it instead, when known. */
      readonly leader: ReplicaId | null
    }

export type StepResult =
  | { readonly ok: true }
  | {
      readonly ok: false
      readonly reason: 'not-member' | 'stale' | 'invalid' | 'unauthenticated'
      readonly detail: string
    }

/**
 * The pure consensus engine contract. Implemented by `@socketcloud/consensus-raft`, `-pbft` and
 * `-tendermint`; driven by `@socketcloud/consensus`'s runtime and by the simulator. An engine does no
 * I/O and reads no clock or global randomness: time arrives as `tick()`, randomness from an injected
 * seeded `Random`, signatures through injected `Signer`/`Verifier`. Every call is synchronous.
 *
 * How each protocol maps onto it:
 * - Raft: `propose` appends on the leader (followers refuse with the leader's id); entries commit
 *   when a majority stores them in the leader's term; `readIndex` confirms leadership with a
 *   heartbeat round. HardState is (term, vote, commit).
 * - PBFT: `propose` on the primary assigns a sequence number (index) in the current view (term);
 *   entries commit after pre-prepare, 2f+1 prepares and 2f+1 commits. Each replica applies and
 *   replies to the client itself; a client accepts a result once f+1 replicas return matching
 *   replies, which the driver's client side collects. Checkpoints are `compact` snapshots; view
 *   changes use `extra` in HardState for prepared certificates. Messages are signed via `Signer`.
 * - Tendermint: each height (index) commits one block of batched proposals; the proposer of the
 *   round proposes, validators prevote and precommit, and a block commits with precommits from
 *   more than 2/3 of voting power, carried as validator signatures with the committed entry.
 *   The lock (locked round and value) lives in HardState `extra`.
 *
 * Reads: `readIndex` answers through `Ready.reads`; an engine without a cheaper read path returns
 * `unsupported` and the driver reads through the log instead.
 */
export interface ConsensusEngine<Message> {
  readonly id: ReplicaId
  /** One unit of logical time. Timeouts are configured in ticks. */
  tick(): void
  /** A decoded, validated message from `from`. Refusals are returned (and counted by the driver), never thrown. */
  step(from: ReplicaId, message: Message): StepResult
  /** Orders a command. `context` identifies it in `dropped`; the driver embeds its own request id in `data`. */
  propose(data: Uint8Array, context: string): ProposeResult
  /** Asks for a linearizable read point; answered in `Ready.reads` with the same `context`. */
  readIndex(context: string): ProposeResult
  /** The application snapshotted through `snapshot.meta.index`; the engine may drop its log up to there. */
  compact(snapshot: Snapshot): void
  hasReady(): boolean
  ready(): Ready<Message>
  advance(ready: Ready<Message>): void
  status(): EngineStatus
  /**
   * Optional, for drivers that finish a log write behind the loop: advances past a Ready whose entries
   * are still being written. Allowed only for a Ready with no messages, no snapshot and no new term or
   * vote (in practice a leader appending its own proposals); the engine must not count those entries
   * as stored on this replica until `markDurable` says so, so a commit never depends on an unwritten
   * copy. Committed entries that are already durable may be applied while such a write is in flight.
   */
  advanceBeforeDurable?(ready: Ready<Message>): void
  /** Optional, with `advanceBeforeDurable`: entries through `index` (of `term`) are now durable here. */
  markDurable?(index: number, term: number): void
}

/** Wire encoding of an engine's messages inside the core `Codec` envelope. */
export interface EngineMessageCodec<Message> {
  /** Envelope type for `message`, e.g. `raft.append`. */
  typeOf(message: Message): string
  /** Plain MessagePack-able payload. */
  encode(message: Message): unknown
  /** Validates an untrusted payload; throws DecodeError for an unknown type or an invalid field. */
  decode(type: string, payload: unknown): Message
}
