/**
 * @packageDocumentation
 * The runtime that drives any consensus engine (`ConsensusEngine` from `@socketcloud/core`) with a
 * transport, a log store, a snapshot store, a state machine and a clock: it ticks the engine, runs
 * the Ready loop (persist before send, then apply, then advance), forwards clients to the leader,
 * keeps client sessions so a retried command applies at most once, serves linearizable reads and
 * snapshots the state machine.
 *
 * @example
 * ```ts
 * import { ConsensusRuntime, raftEngineFactory } from '@socketcloud/consensus'
 * const runtime = new ConsensusRuntime({
 *   transport, logStore, snapshotStore, stateMachine, clock: systemClock,
 *   engineFactory: raftEngineFactory({ voters: [a.hex, b.hex, c.hex] }),
 * })
 * await runtime.start()
 * const result = await runtime.submit(command)           // committed and applied, exactly once
 * const value = await runtime.read(query, 'linearizable') // reflects every acknowledged write
 * await runtime.stop()
 * ```
 */
export { ConsensusRuntime } from './runtime'
export type {
  ConsensusRuntimeComponents,
  ConsensusRuntimeEvents,
  ExplicitSession,
  ReadConsistency,
  RequestOptions,
  SubmitOptions,
} from './runtime'
export type { EngineFactory, RecoveredState } from './engine-factory'
export { DEFAULT_RUNTIME_INIT, resolveRuntimeInit } from './options'
export type { ConsensusRuntimeInit } from './options'
export { MESSAGE_TYPES as RUNTIME_MESSAGE_TYPES } from './wire'
export { encodeEntryEnvelope, decodeEntryEnvelope, ENTRY_ENVELOPE_VERSION } from './core/entry-envelope'
export type { EntryEnvelope, EntryOperation } from './core/entry-envelope'
export { raftEngineFactory } from './raft-engine-factory'
export type { RaftEngineFactoryInit } from './raft-engine-factory'
export { PeerConnector } from './peer-connector'
export type { PeerConnectorComponents, PeerConnectorInit } from './peer-connector'
