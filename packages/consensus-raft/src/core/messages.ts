import type { LogEntry, ReplicaId, SnapshotMeta } from '@socketcloud/core'

/**
 * Raft's messages as a tagged union. Every message carries the sender's term. Names follow the
 * paper: `vote` is RequestVote, `append` is AppendEntries, `snapshot` is one InstallSnapshot chunk.
 */
export type RaftMessage =
  | PreVoteRequest
  | PreVoteResponse
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotChunk
  | SnapshotResponse
  | TimeoutNow

/** Asks whether the receiver would vote in `term` (the sender's term + 1) without changing any term. */
export interface PreVoteRequest {
  readonly type: 'pre-vote'
  readonly term: number
  readonly lastIndex: number
  readonly lastTerm: number
}
export interface PreVoteResponse {
  readonly type: 'pre-vote-response'
  readonly term: number
  readonly granted: boolean
}
export interface VoteRequest {
  readonly type: 'vote'
  readonly term: number
  readonly lastIndex: number
  readonly lastTerm: number
  /** Campaign started by TimeoutNow: voters skip the leader-lease check. */
  readonly transfer: boolean
}
export interface VoteResponse {
  readonly type: 'vote-response'
  readonly term: number
  readonly granted: boolean
}
export interface AppendRequest {
  readonly type: 'append'
  readonly term: number
  readonly prevIndex: number
  readonly prevTerm: number
  readonly entries: readonly LogEntry[]
  readonly commit: number
}
/**
 * Success: `index` is the last index now known to match the leader. Rejection: `index` is the
 * rejected prevIndex, and (`hintIndex`, `hintTerm`) is the follower's last entry that might match,
 * so the leader can skip a whole conflicting term at once (fast back-off, thesis §5.3).
 */
export interface AppendResponse {
  readonly type: 'append-response'
  readonly term: number
  readonly index: number
  readonly reject: boolean
  readonly hintIndex: number
  readonly hintTerm: number
}
export interface HeartbeatRequest {
  readonly type: 'heartbeat'
  readonly term: number
  /** min(follower's match, leader's commit): never ahead of what the follower stores. */
  readonly commit: number
  /** Heartbeat round; echoed back so the leader can confirm leadership for reads. */
  readonly round: number
}
export interface HeartbeatResponse {
  readonly type: 'heartbeat-response'
  readonly term: number
  readonly round: number
}
export interface SnapshotChunk {
  readonly type: 'snapshot'
  readonly term: number
  readonly meta: SnapshotMeta
  readonly totalBytes: number
  readonly offset: number
  readonly data: Uint8Array
}
/** Acknowledges chunks up to `offset` (the next byte wanted) of the snapshot at `index`. */
export interface SnapshotResponse {
  readonly type: 'snapshot-response'
  readonly term: number
  readonly index: number
  readonly offset: number
}
/** Leadership transfer: the receiver starts an election at once. */
export interface TimeoutNow {
  readonly type: 'timeout-now'
  readonly term: number
}

export type RaftMessageType = RaftMessage['type']

export const raftMessageTypes: readonly RaftMessageType[] = [
  'pre-vote',
  'pre-vote-response',
  'vote',
  'vote-response',
  'append',
  'append-response',
  'heartbeat',
  'heartbeat-response',
  'snapshot',
  'snapshot-response',
  'timeout-now',
]

export interface Addressed {
  readonly from: ReplicaId
  readonly message: RaftMessage
}
