/**
 * @packageDocumentation
 * Pure Raft consensus engine: PreVote, CheckQuorum, pipelining, snapshots, membership changes, ReadIndex
 */
export {}
