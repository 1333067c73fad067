/**
 * @packageDocumentation
 * Pure Raft consensus engine: PreVote, CheckQuorum, pipelining, snapshots, membership changes, ReadIndex.
 *
 * `RaftEngine` implements core's `ConsensusEngine<RaftMessage>`; `RaftMessageCodec` implements
 * `EngineMessageCodec<RaftMessage>`. The engine does no I/O: a driver ticks it, steps it with decoded
 * messages, and executes each `Ready` (persist, send, apply, read, advance). See the README for the loop.
 */
export { RaftEngine } from './core/engine'
export type { RaftEngineInit, RaftRole, TransferResult, MembershipChangeResult } from './core/engine'
export { RaftMessageCodec } from './core/codec'
export type { RaftMessageCodecOptions } from './core/codec'
export { defaultRaftOptions, resolveRaftOptions } from './core/options'
export type { RaftOptions } from './core/options'
export { applyMembershipChange, decodeMembership, encodeMembership, isMember } from './core/membership'
export type { Membership, MembershipChange } from './core/membership'
export type * from './core/messages'
export { raftMessageTypes } from './core/messages'
export {
  jointCommittedIndex,
  jointVoteResult,
  majorityCommittedIndex,
  majorityVoteResult,
} from './core/quorum'
export type { VoteResult } from './core/quorum'
