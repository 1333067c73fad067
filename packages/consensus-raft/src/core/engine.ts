import {
  assert,
  ConfigError,
  type ConsensusEngine,
  type EngineStatus,
  type HardState,
  type LogEntry,
  type OutboundMessage,
  type ProposeResult,
  type Random,
  type Ready,
  type ReadState,
  type ReplicaId,
  sliceBytes,
  type Snapshot,
  type SnapshotMeta,
  type StepResult,
} from '@socketcloud/core'
import {
  applyMembershipChange,
  decodeMembership,
  encodeMembership,
  isMember,
  type Membership,
  type MembershipChange,
} from './membership'
import type {
  AppendRequest,
  AppendResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  PreVoteRequest,
  RaftMessage,
  SnapshotChunk,
  SnapshotResponse,
  VoteRequest,
} from './messages'
import { resolveRaftOptions, type RaftOptions } from './options'
import { Progress } from './progress'
import { majorityCommittedIndex, majorityVoteResult } from './quorum'
import { RaftLog } from './raft-log'

export type RaftRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader'

/**
 * What a Raft replica starts from. A new cluster passes only `voters` (and `learners`); a restart
 * also passes what the stores returned: `LogStore.load()` (hardState, entries, compacted index and
 * term) and `SnapshotStore.load()` (the snapshot, whose data the leader streams to followers that
 * fell behind the compacted log). The membership in effect is the newest `config` entry of the log,
 * else the snapshot's, else `voters`/`learners`.
 */
export interface RaftEngineInit {
  readonly id: ReplicaId
  readonly voters: readonly ReplicaId[]
  readonly learners?: readonly ReplicaId[]
  /** Seeded randomness for election timeouts (core `SeededRandom`, forked per engine). */
  readonly random: Random
  readonly hardState?: HardState | null
  readonly entries?: readonly LogEntry[]
  readonly compactedIndex?: number
  readonly compactedTerm?: number
  readonly snapshot?: Snapshot | null
  /** Highest index already applied to the state machine (default: the snapshot's index). */
  readonly appliedIndex?: number
  readonly options?: Partial<RaftOptions>
}

export type TransferResult =
  | { readonly ok: true }
  | {
      readonly ok: false
      readonly reason: 'not-leader' | 'no-leader' | 'not-voter'
      readonly leader: ReplicaId | null
    }

export type MembershipChangeResult =
  | { readonly ok: true; readonly index: number }
  | {
      readonly ok: false
      readonly reason:
        'not-leader' | 'no-leader' | 'transferring' | 'change-pending' | 'invalid' | 'not-caught-up'
      readonly leader: ReplicaId | null
      readonly detail: string
    }

interface PendingRead {
  readonly context: string
  readonly index: number
  readonly round: number
}

interface SnapshotAssembly {
  readonly meta: SnapshotMeta
  readonly buffer: Uint8Array
  offset: number
}

const noReads: readonly ReadState[] = []
const noStrings: readonly string[] = []
const noEntries: readonly LogEntry[] = []

/**
 * Raft (Ongaro and Ousterhout; Ongaro's thesis) as a pure, synchronous state machine behind core's
 * `ConsensusEngine`. Inputs are `tick`, `step`, `propose`, `readIndex`, `compact` and the Raft-specific
 * `transferLeadership` and `proposeMembershipChange`; every effect comes out of `ready()` in the order
 * the driver must perform it.
 *
 * Membership changes one voter at a time (thesis §4.1): a configuration takes effect on each replica
 * as soon as its `config` entry is in that replica's log, is reverted if the entry is truncated, and
 * a leader proposes a change only after it committed an entry of its own term and the previous change
 * committed (the 2015 correction to the single-server algorithm).
 */
export class RaftEngine implements ConsensusEngine<RaftMessage> {
  readonly id: ReplicaId
  readonly options: RaftOptions
  private readonly random: Random
  private readonly log: RaftLog

  private term = 0
  private vote: ReplicaId | null = null
  private role: RaftRole = 'follower'
  private leader: ReplicaId | null = null

  private membership: Membership
  /** Index of the entry (or snapshot) that defined `membership`. */
  private membershipIndex: number
  private snapshotMembership: Membership
  private snapshot: Snapshot | null

  private electionElapsed = 0
  private heartbeatElapsed = 0
  private randomizedElectionTimeout = 0
  private tickCount = 0

  private readonly progress = new Map<ReplicaId, Progress>()
  private readonly votes = new Map<ReplicaId, boolean>()
  private transferee: ReplicaId | null = null
  private pendingConfigIndex = 0
  private uncommittedBytes = 0
  private appendPending = false

  private heartbeatRound = 0
  /** Whether the last Ready left term and vote as already handed to storage (see `advanceBeforeDurable`). */
  private lastReadyKeepsTermAndVote = false
  private confirmedRound = 0
  private leaseStartTick = Number.NEGATIVE_INFINITY
  private readonly roundsSent: { round: number; tick: number }[] = []
  private readBroadcastPending = false
  private pendingReads: PendingRead[] = []
  private readsAwaitingCommit: string[] = []
  private readyReads: ReadState[] = []
  private dropped: string[] = []

  private incomingSnapshot: SnapshotAssembly | null = null
  private snapshotToPersist: Snapshot | null = null
  private outbox: OutboundMessage<RaftMessage>[] = []
  private persistedHardState: HardState
  private lastStatus: EngineStatus | null = null
  private lastReady: Ready<RaftMessage> | null = null

  constructor(init: RaftEngineInit) {
    this.options = resolveRaftOptions(init.options)
    this.id = init.id
    this.random = init.random
    if (typeof init.id !== 'string' || init.id.length === 0)
      throw new ConfigError('id must be a non-empty string')

    const snapshot = init.snapshot ?? null
    const compactedIndex = init.compactedIndex ?? 0
    const compactedTerm = init.compactedTerm ?? 0
    const snapshotIndex = snapshot?.meta.index ?? 0
    if (compactedIndex > snapshotIndex) {
      throw new ConfigError('the log is compacted beyond the snapshot: entries are missing', {
        compactedIndex,
        snapshotIndex,
      })
    }
    const baseIndex = snapshot ? snapshot.meta.index : compactedIndex
    const baseTerm = snapshot ? snapshot.meta.term : compactedTerm
    const entries = init.entries ?? []
    const first = entries[0]
    if (first !== undefined && first.index > baseIndex + 1) {
      throw new ConfigError('a gap between the snapshot and the first log entry', {
        snapshotIndex: baseIndex,
        firstEntryIndex: first.index,
      })
    }
    this.log = new RaftLog(baseIndex, baseTerm, entries, init.appliedIndex ?? baseIndex)
    const atBase = entries.find((entry) => entry.index === baseIndex)
    if (atBase !== undefined && atBase.term !== baseTerm) {
      throw new ConfigError('the snapshot term disagrees with the log', { index: baseIndex })
    }
    this.snapshot = snapshot

    const bootstrap: Membership = { voters: [...init.voters], learners: [...(init.learners ?? [])] }
    this.snapshotMembership =
      snapshot !== null && snapshot.meta.membership.length > 0
        ? decodeMembership(snapshot.meta.membership, 'snapshot.meta.membership')
        : bootstrap
    this.membership = this.snapshotMembership
    this.membershipIndex = baseIndex
    this.recomputeMembership()

    const hardState = init.hardState ?? null
    if (hardState !== null) {
      this.term = hardState.term
      this.vote = hardState.vote
      this.log.committed = Math.max(baseIndex, Math.min(hardState.commit, this.log.lastIndex()))
    }
    this.persistedHardState = { term: this.term, vote: this.vote, commit: this.log.committed }
    this.resetElectionTimer()
    // A restarted replica has not heard from any leader yet: it accepts a leader's traffic.
    this.electionElapsed = 0
  }

  // ---------------------------------------------------------------------------------------------
  // Public inputs

  tick(): void {
    this.tickCount++
    if (this.role === 'leader') this.tickLeader()
    else this.tickElection()
  }

  step(from: ReplicaId, message: RaftMessage): StepResult {
    if (from === this.id) return { ok: false, reason: 'invalid', detail: 'message from ourselves' }
    if (!this.acceptsSender(from, message)) {
      return { ok: false, reason: 'not-member', detail: `${from} is not in the configuration` }
    }
    if (message.term > this.term) {
      if (message.type === 'pre-vote' || message.type === 'vote') {
        const transfer = message.type === 'vote' && message.transfer
        if (!transfer && this.inLeaderLease()) {
          // CheckQuorum: we heard from a leader within an election timeout; a disruptive candidate
          // (e.g. one that was partitioned) must not depose it (thesis §4.2.3).
          return { ok: false, reason: 'stale', detail: 'vote request inside the leader lease' }
        }
      }
      if (message.type === 'pre-vote' || (message.type === 'pre-vote-response' && message.granted)) {
        // Pre-votes carry the term the candidate would use; they never change ours.
      } else if (message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot') {
        this.becomeFollower(message.term, from)
      } else {
        // Learning a higher term from a candidate (or a response) does not restart our election
        // timer (the paper resets it only for a leader's append, a granted vote or our own
        // campaign); otherwise a candidate that cannot win, ticking faster than us, would keep
        // postponing the election of one that can.
        this.becomeFollower(message.term, null, false)
      }
    } else if (message.term < this.term) {
      if (message.type === 'append' || message.type === 'heartbeat') {
        // A deposed leader: tell it our term so it steps down (the paper's "reply false with
        // currentTerm"). Without this, a stale leader whose configuration no longer lists the new
        // leader would never hear of the new term.
        this.send(from, {
          type: 'append-response',
          term: this.term,
          index: 0,
          reject: true,
          hintIndex: 0,
          hintTerm: 0,
        })
      } else if (message.type === 'pre-vote' || message.type === 'vote') {
        // Reply with our term so a candidate that never hears from us otherwise (its configuration
        // and ours can differ while a change is in flight) catches up on terms instead of looping.
        const type = message.type === 'pre-vote' ? 'pre-vote-response' : 'vote-response'
        this.send(from, { type, term: this.term, granted: false })
      }
      return { ok: false, reason: 'stale', detail: `term ${message.term} < ${this.term}` }
    }

    switch (message.type) {
      case 'pre-vote':
      case 'vote':
        this.handleVoteRequest(from, message)
        return ok
      case 'pre-vote-response':
        if (this.role === 'pre-candidate') this.recordVote(from, message.granted)
        return ok
      case 'vote-response':
        if (this.role === 'candidate') this.recordVote(from, message.granted)
        return ok
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        if (this.role === 'leader') {
          return { ok: false, reason: 'invalid', detail: `two leaders claim term ${message.term}` }
        }
        if (this.role !== 'follower') this.becomeFollower(this.term, from)
        this.leader = from
        this.electionElapsed = 0
        if (message.type === 'append') this.handleAppend(from, message)
        else if (message.type === 'heartbeat') this.handleHeartbeat(from, message)
        else return this.handleSnapshotChunk(from, message)
        return ok
      case 'append-response':
        if (this.role !== 'leader') return ok
        if (!message.reject && message.index > this.log.lastIndex()) {
          return { ok: false, reason: 'invalid', detail: `acknowledges ${message.index} beyond our log` }
        }
        this.handleAppendResponse(from, message)
        return ok
      case 'heartbeat-response':
        if (this.role !== 'leader') return ok
        if (message.round > this.heartbeatRound) {
          return {
            ok: false,
            reason: 'invalid',
            detail: `answers heartbeat round ${message.round} never sent`,
          }
        }
        this.handleHeartbeatResponse(from, message)
        return ok
      case 'snapshot-response':
        if (this.role === 'leader') this.handleSnapshotResponse(from, message)
        return ok
      case 'timeout-now':
        if (from !== this.leader)
          return { ok: false, reason: 'invalid', detail: 'timeout-now from a non-leader' }
        if (this.role === 'follower' && this.promotable()) this.campaign('transfer')
        return ok
    }
  }

  propose(data: Uint8Array, _context: string): ProposeResult {
    const refusal = this.refuseUnlessLeader()
    if (refusal !== null) return refusal
    if (this.transferee !== null) return { ok: false, reason: 'transferring', leader: this.id }
    if (data.length > this.options.proposalBytesMax)
      return { ok: false, reason: 'too-large', leader: this.id }
    if (
      this.uncommittedBytes > 0 &&
      this.uncommittedBytes + data.length > this.options.uncommittedEntriesBytesMax
    ) {
      return { ok: false, reason: 'overloaded', leader: this.id }
    }
    this.appendOwn('command', data)
    return ok
  }

  readIndex(context: string): ProposeResult {
    const refusal = this.refuseUnlessLeader()
    if (refusal !== null) return refusal
    if (this.pendingReads.length + this.readsAwaitingCommit.length >= this.options.readsPendingMax) {
      return { ok: false, reason: 'overloaded', leader: this.id }
    }
    if (this.log.term(this.log.committed) !== this.term) {
      // Until an entry of our term commits we do not know the commit index (thesis §6.4 step 1).
      this.readsAwaitingCommit.push(context)
      return ok
    }
    this.admitRead(context)
    return ok
  }

  compact(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta
    if (index <= this.log.snapshotIndex()) return
    assert(index <= this.log.applied, 'compact: the snapshot covers entries not yet applied')
    assert(this.log.term(index) === term, 'compact: the snapshot term disagrees with the log')
    const membershipAtIndex = this.membershipAt(index)
    const meta: SnapshotMeta =
      snapshot.meta.membership.length > 0
        ? snapshot.meta
        : { index, term, membership: encodeMembership(membershipAtIndex) }
    this.snapshot = { meta, data: snapshot.data }
    this.snapshotMembership = membershipAtIndex
    this.log.compact(index)
    if (this.membershipIndex < index) this.membershipIndex = index
  }

  /** Metadata for a snapshot of the state machine at `index` (applied, not compacted): term and membership. */
  snapshotMeta(index: number): SnapshotMeta {
    const term = this.log.term(index)
    assert(term !== undefined, 'snapshotMeta: index outside the log')
    return { index, term, membership: encodeMembership(this.membershipAt(index)) }
  }

  /** Leadership transfer (thesis §3.10): catch `to` up, then tell it to campaign at once. */
  transferLeadership(to: ReplicaId): TransferResult {
    if (this.role !== 'leader') {
      return { ok: false, reason: this.leader === null ? 'no-leader' : 'not-leader', leader: this.leader }
    }
    if (to === this.id) return ok
    if (!this.membership.voters.includes(to)) return { ok: false, reason: 'not-voter', leader: this.id }
    this.transferee = to
    this.electionElapsed = 0
    const progress = this.progress.get(to)!
    if (progress.match === this.log.lastIndex()) this.send(to, { type: 'timeout-now', term: this.term })
    else this.sendAppend(to, true)
    return ok
  }

  /** Proposes one single-server membership change; see `MembershipChange`. */
  proposeMembershipChange(change: MembershipChange): MembershipChangeResult {
    if (this.role !== 'leader') {
      return {
        ok: false,
        reason: this.leader === null ? 'no-leader' : 'not-leader',
        leader: this.leader,
        detail: 'only the leader changes the membership',
      }
    }
    const refuse = (
      reason: 'transferring' | 'change-pending' | 'invalid' | 'not-caught-up',
      detail: string,
    ) => ({ ok: false, reason, leader: this.id, detail }) as const
    if (this.transferee !== null) return refuse('transferring', 'a leadership transfer is in progress')
    if (this.pendingConfigIndex > this.log.committed || this.log.term(this.log.committed) !== this.term) {
      return refuse('change-pending', 'the previous change (or this term’s first entry) is not committed yet')
    }
    const next = applyMembershipChange(this.membership, change)
    if (!next.ok) return refuse('invalid', next.detail)
    if (change.type === 'promote-learner') {
      // The learner must at least hold the configuration that made it a learner (so it knows the
      // voters it will exchange votes with), and be close to the commit index.
      const match = this.progress.get(change.id)?.match ?? 0
      if (match < this.membershipIndex || match + this.options.learnerLagEntriesMax < this.log.committed) {
        return refuse(
          'not-caught-up',
          `learner ${change.id} matches ${match}, commit is ${this.log.committed}`,
        )
      }
    }
    const index = this.appendOwn('config', encodeMembership(next.membership))
    this.pendingConfigIndex = index
    return { ok: true, index }
  }

  hasReady(): boolean {
    return (
      this.outbox.length > 0 ||
      this.appendPending ||
      this.readBroadcastPending ||
      this.log.stableIndex < this.log.lastIndex() ||
      this.snapshotToPersist !== null ||
      this.log.committed > this.log.applied ||
      this.readyReads.length > 0 ||
      this.dropped.length > 0 ||
      this.hardStateChanged() ||
      this.statusChanged()
    )
  }

  ready(): Ready<RaftMessage> {
    this.flushBroadcasts()
    const hardStateChanged = this.hardStateChanged()
    // Appends and heartbeats depend only on our in-memory log and a term made durable by an earlier
    // Ready, so they may leave before this Ready's write — unless this Ready itself changes the term
    // or vote, which a message of that term would otherwise promise before it is durable.
    const termDurable =
      this.term === this.persistedHardState.term && this.vote === this.persistedHardState.vote
    const mustSync =
      this.log.stableIndex < this.log.lastIndex() ||
      this.snapshotToPersist !== null ||
      this.term !== this.persistedHardState.term ||
      this.vote !== this.persistedHardState.vote
    const hardState: HardState | null = hardStateChanged
      ? { term: this.term, vote: this.vote, commit: this.log.committed }
      : null
    const entries = this.log.stableIndex < this.log.lastIndex() ? this.log.unstableEntries() : noEntries
    const committed = this.log.nextCommitted(this.options.committedEntriesPerReadyMax)
    const status = this.statusChanged() ? this.status() : null
    let messages = this.outbox
    let messagesBeforePersist: OutboundMessage<RaftMessage>[] = []
    if (termDurable && this.snapshotToPersist === null && this.outbox.some(mayPrecedePersist)) {
      messagesBeforePersist = this.outbox.filter(mayPrecedePersist)
      messages = this.outbox.filter((outbound) => !mayPrecedePersist(outbound))
    }
    const ready: Ready<RaftMessage> = {
      hardState,
      entries,
      snapshot: this.snapshotToPersist,
      mustSync,
      messages,
      messagesBeforePersist,
      committed,
      reads: this.readyReads.length > 0 ? this.readyReads : noReads,
      dropped: this.dropped.length > 0 ? this.dropped : noStrings,
      status,
    }
    // Everything in this Ready is handed over now, so nothing repeats in the next one.
    if (hardState !== null) this.persistedHardState = hardState
    const lastEntry = entries[entries.length - 1]
    if (lastEntry !== undefined) this.log.stableTo(lastEntry.index, lastEntry.term)
    const lastCommitted = committed[committed.length - 1]
    if (lastCommitted !== undefined) this.log.applied = lastCommitted.index
    if (status !== null) this.lastStatus = status
    this.snapshotToPersist = null
    this.outbox = []
    this.readyReads = []
    this.dropped = []
    this.lastReady = ready
    this.lastReadyKeepsTermAndVote = termDurable
    return ready
  }

  advance(ready: Ready<RaftMessage>): void {
    assert(ready === this.lastReady, 'advance() must receive the last Ready returned by ready()')
    this.lastReady = null
    // The driver made this Ready durable: only now does our own copy count toward a commit quorum.
    if (ready.snapshot !== null) this.log.durableTo(ready.snapshot.meta.index, ready.snapshot.meta.term)
    const lastEntry = ready.entries[ready.entries.length - 1]
    if (lastEntry !== undefined) this.log.durableTo(lastEntry.index, lastEntry.term)
    if (this.role !== 'leader') return
    const own = this.progress.get(this.id)
    if (own !== undefined && own.maybeUpdate(this.log.durableIndex) && this.maybeCommit()) {
      this.appendPending = true
    }
  }

  /**
   * `advance` for a driver that lets this Ready's log write finish in the background (etcd's
   * asynchronous storage writes): everything else in the Ready is done, but its entries count as
   * durable — toward a commit quorum for a leader — only once `markDurable` confirms them. Only for a
   * Ready without a snapshot and without `messages` (which would promise the write) whose hard state,
   * if any, keeps the durable term and vote.
   */
  advanceBeforeDurable(ready: Ready<RaftMessage>): void {
    assert(ready === this.lastReady, 'advanceBeforeDurable() must receive the last Ready returned by ready()')
    assert(
      ready.snapshot === null && ready.messages.length === 0 && this.lastReadyKeepsTermAndVote,
      'only a Ready without a snapshot, messages or a new term or vote may be advanced before its write is durable',
    )
    this.lastReady = null
  }

  /**
   * The driver's write of entries through `index` (of `term`) is durable, and so is every earlier
   * write. Ignored when the log has since replaced that entry.
   */
  markDurable(index: number, term: number): void {
    this.log.durableTo(index, term)
    if (this.role !== 'leader') return
    const own = this.progress.get(this.id)
    if (own !== undefined && own.maybeUpdate(this.log.durableIndex) && this.maybeCommit()) {
      this.appendPending = true
    }
  }

  status(): EngineStatus {
    return {
      id: this.id,
      role: this.role,
      leader: this.leader,
      term: this.term,
      commitIndex: this.log.committed,
      voters: this.membership.voters,
      learners: this.membership.learners,
    }
  }

  /** A read-only view for tests and operators. */
  inspect(): {
    role: RaftRole
    term: number
    vote: ReplicaId | null
    leader: ReplicaId | null
    commitIndex: number
    appliedIndex: number
    lastIndex: number
    lastTerm: number
    snapshotIndex: number
    membership: Membership
    transferee: ReplicaId | null
    progress: ReadonlyMap<ReplicaId, { match: number; next: number; state: string }>
  } {
    const progress = new Map<ReplicaId, { match: number; next: number; state: string }>()
    for (const [id, entry] of this.progress)
      progress.set(id, { match: entry.match, next: entry.next, state: entry.state })
    return {
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commitIndex: this.log.committed,
      appliedIndex: this.log.applied,
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      snapshotIndex: this.log.snapshotIndex(),
      membership: this.membership,
      transferee: this.transferee,
      progress,
    }
  }

  /** Entry at `index` if still in the log (tests and invariant checkers). */
  entryAt(index: number): LogEntry | undefined {
    return this.log.entry(index)
  }

  termAt(index: number): number | undefined {
    return this.log.term(index)
  }

  // ---------------------------------------------------------------------------------------------
  // Roles

  private becomeFollower(term: number, leader: ReplicaId | null, restartTimer = true): void {
    const wasLeader = this.role === 'leader'
    if (term !== this.term) {
      assert(term > this.term, 'terms only grow')
      this.term = term
      this.vote = null
    }
    this.role = 'follower'
    this.leader = leader
    if (restartTimer || wasLeader) this.resetElectionTimer()
    this.votes.clear()
    if (wasLeader) this.leaveLeadership()
  }

  private leaveLeadership(): void {
    this.progress.clear()
    this.transferee = null
    this.uncommittedBytes = 0
    this.appendPending = false
    this.readBroadcastPending = false
    for (const read of this.pendingReads) this.dropped.push(read.context)
    for (const context of this.readsAwaitingCommit) this.dropped.push(context)
    this.pendingReads = []
    this.readsAwaitingCommit = []
    this.roundsSent.length = 0
    this.leaseStartTick = Number.NEGATIVE_INFINITY
  }

  private campaign(kind: 'pre' | 'real' | 'transfer'): void {
    this.votes.clear()
    this.electionElapsed = 0
    this.randomizedElectionTimeout = this.drawElectionTimeout()
    let campaignTerm: number
    if (kind === 'pre') {
      this.role = 'pre-candidate'
      this.leader = null
      campaignTerm = this.term + 1
    } else {
      this.role = 'candidate'
      this.term += 1
      this.vote = this.id
      this.leader = null
      campaignTerm = this.term
    }
    if (this.recordVote(this.id, true)) return
    for (const voter of this.membership.voters) {
      if (voter === this.id) continue
      if (kind === 'pre') {
        this.send(voter, {
          type: 'pre-vote',
          term: campaignTerm,
          lastIndex: this.log.lastIndex(),
          lastTerm: this.log.lastTerm(),
        })
      } else {
        this.send(voter, {
          type: 'vote',
          term: campaignTerm,
          lastIndex: this.log.lastIndex(),
          lastTerm: this.log.lastTerm(),
          transfer: kind === 'transfer',
        })
      }
    }
  }

  /** Records a vote; returns true when the campaign ended (won or lost). */
  private recordVote(from: ReplicaId, granted: boolean): boolean {
    if (!this.votes.has(from)) this.votes.set(from, granted)
    const result = majorityVoteResult(this.membership.voters, (id) => this.votes.get(id))
    if (result === 'won') {
      if (this.role === 'pre-candidate') this.campaign('real')
      else this.becomeLeader()
      return true
    }
    if (result === 'lost') {
      this.becomeFollower(this.term, null)
      return true
    }
    return false
  }

  private becomeLeader(): void {
    this.role = 'leader'
    this.leader = this.id
    this.votes.clear()
    this.heartbeatElapsed = 0
    this.electionElapsed = 0
    this.transferee = null
    this.progress.clear()
    for (const member of [...this.membership.voters, ...this.membership.learners]) {
      this.addProgress(member)
    }
    // No membership change until an entry of this term commits (thesis §4.1, 2015 correction).
    this.pendingConfigIndex = this.log.lastIndex() + 1
    this.confirmedRound = this.heartbeatRound
    this.appendOwn('noop', new Uint8Array(0))
  }

  private addProgress(member: ReplicaId): void {
    if (this.progress.has(member)) return
    const progress = new Progress(this.log.lastIndex() + 1, this.options.inflightMessagesMax)
    progress.recentActive = true
    if (member === this.id) {
      progress.match = this.log.durableIndex
      progress.becomeReplicate()
    }
    this.progress.set(member, progress)
  }

  private promotable(): boolean {
    return this.membership.voters.includes(this.id)
  }

  private inLeaderLease(): boolean {
    return (
      this.options.checkQuorum &&
      this.leader !== null &&
      this.electionElapsed < this.options.electionTimeoutTicks
    )
  }

  /**
   * Messages from outside our configuration are refused while we have a live leader (we heard from
   * it within an election timeout), and always by a leader: a removed or foreign replica cannot
   * disturb a healthy group, whatever term it claims. Without a live leader we follow the thesis
   * (§4.2.3: servers process requests without consulting their configuration), because then our
   * configuration may be the stale one — we may have missed the change that added the replica now
   * asking for our vote or sending us entries — and refusing would deadlock the group.
   */
  private acceptsSender(from: ReplicaId, _message: RaftMessage): boolean {
    if (isMember(this.membership, from)) return true
    if (this.role === 'leader') return false
    // Our live leader itself may be outside our (stale) configuration until its entries reach us.
    if (from === this.leader) return true
    return this.leader === null || this.electionElapsed >= this.options.electionTimeoutTicks
  }

  private refuseUnlessLeader(): ProposeResult | null {
    if (this.role === 'leader') return null
    return { ok: false, reason: this.leader === null ? 'no-leader' : 'not-leader', leader: this.leader }
  }

  // ---------------------------------------------------------------------------------------------
  // Timers

  private drawElectionTimeout(): number {
    const base = this.options.electionTimeoutTicks
    return base + this.random.nextInt(base)
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.randomizedElectionTimeout = this.drawElectionTimeout()
  }

  private tickElection(): void {
    this.electionElapsed++
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.campaign(this.options.preVote ? 'pre' : 'real')
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.electionElapsed >= this.options.electionTimeoutTicks) {
      this.electionElapsed = 0
      if (this.options.checkQuorum) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, null)
          return
        }
        for (const [member, progress] of this.progress) progress.recentActive = member === this.id
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.transferee = null
    }
    if (this.heartbeatElapsed >= this.options.heartbeatTicks) {
      this.heartbeatElapsed = 0
      this.broadcastHeartbeat()
    }
  }

  private quorumActive(): boolean {
    let active = 0
    for (const voter of this.membership.voters) {
      if (voter === this.id || this.progress.get(voter)?.recentActive === true) active++
    }
    return active >= Math.floor(this.membership.voters.length / 2) + 1
  }

  // ---------------------------------------------------------------------------------------------
  // Votes

  private handleVoteRequest(from: ReplicaId, message: PreVoteRequest | VoteRequest): void {
    const canVote =
      this.vote === from ||
      (this.vote === null && this.leader === null) ||
      (message.type === 'pre-vote' && message.term > this.term)
    const granted = canVote && this.log.isUpToDate(message.lastIndex, message.lastTerm)
    const responseType = message.type === 'pre-vote' ? 'pre-vote-response' : 'vote-response'
    if (granted) {
      // A granted pre-vote answers with the candidate's prospective term, so it is not mistaken as stale.
      this.send(from, { type: responseType, term: message.term, granted: true })
      if (message.type === 'vote') {
        this.electionElapsed = 0
        this.vote = from
      }
    } else {
      this.send(from, { type: responseType, term: this.term, granted: false })
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Follower side of replication

  private handleAppend(from: ReplicaId, message: AppendRequest): void {
    if (message.prevIndex < this.log.committed) {
      this.sendAppendResponse(from, this.log.committed)
      return
    }
    const lastNew = this.log.maybeAppend(message.prevIndex, message.prevTerm, message.entries)
    if (lastNew === null) {
      const hintIndex = this.log.findConflictByTerm(
        Math.min(message.prevIndex, this.log.lastIndex()),
        message.prevTerm,
      )
      this.send(from, {
        type: 'append-response',
        term: this.term,
        index: message.prevIndex,
        reject: true,
        hintIndex,
        hintTerm: this.log.term(hintIndex) ?? 0,
      })
      return
    }
    if (message.entries.length > 0) this.afterLogChange(message.entries)
    this.log.commitTo(Math.min(message.commit, lastNew))
    this.sendAppendResponse(from, lastNew)
  }

  private sendAppendResponse(to: ReplicaId, index: number): void {
    this.send(to, {
      type: 'append-response',
      term: this.term,
      index,
      reject: false,
      hintIndex: 0,
      hintTerm: 0,
    })
  }

  private handleHeartbeat(from: ReplicaId, message: HeartbeatRequest): void {
    this.log.commitTo(Math.min(message.commit, this.log.lastIndex()))
    this.send(from, { type: 'heartbeat-response', term: this.term, round: message.round })
  }

  private handleSnapshotChunk(from: ReplicaId, message: SnapshotChunk): StepResult {
    const { meta } = message
    if (meta.index <= this.log.committed) {
      this.incomingSnapshot = null
      this.sendAppendResponse(from, this.log.committed)
      return ok
    }
    let assembly = this.incomingSnapshot
    if (assembly === null || assembly.meta.index !== meta.index || assembly.meta.term !== meta.term) {
      if (message.offset !== 0) {
        this.send(from, { type: 'snapshot-response', term: this.term, index: meta.index, offset: 0 })
        return ok
      }
      if (message.totalBytes > this.options.snapshotBytesMax) {
        return {
          ok: false,
          reason: 'invalid',
          detail: `snapshot of ${message.totalBytes} bytes exceeds snapshotBytesMax ${this.options.snapshotBytesMax}`,
        }
      }
      assembly = { meta, buffer: new Uint8Array(message.totalBytes), offset: 0 }
      this.incomingSnapshot = assembly
    }
    if (
      message.totalBytes !== assembly.buffer.length ||
      message.offset + message.data.length > assembly.buffer.length
    ) {
      return { ok: false, reason: 'invalid', detail: 'snapshot chunk outside the announced size' }
    }
    if (message.offset !== assembly.offset) {
      this.send(from, {
        type: 'snapshot-response',
        term: this.term,
        index: meta.index,
        offset: assembly.offset,
      })
      return ok
    }
    assembly.buffer.set(message.data, message.offset)
    assembly.offset += message.data.length
    if (assembly.offset < assembly.buffer.length) {
      this.send(from, {
        type: 'snapshot-response',
        term: this.term,
        index: meta.index,
        offset: assembly.offset,
      })
      return ok
    }
    this.incomingSnapshot = null
    this.installSnapshot({ meta: assembly.meta, data: assembly.buffer })
    this.sendAppendResponse(from, meta.index)
    return ok
  }

  private installSnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta
    if (this.log.matchTerm(index, term)) {
      // We already hold that entry: the snapshot adds nothing but the knowledge that it is committed.
      this.log.commitTo(index)
      return
    }
    this.log.restore(index, term)
    this.snapshot = snapshot
    this.snapshotToPersist = snapshot
    this.snapshotMembership = decodeMembership(snapshot.meta.membership, 'snapshot.meta.membership')
    this.membership = this.snapshotMembership
    this.membershipIndex = index
  }

  // ---------------------------------------------------------------------------------------------
  // Leader side of replication

  private appendOwn(kind: LogEntry['kind'], data: Uint8Array): number {
    const index = this.log.lastIndex() + 1
    const entry: LogEntry = { index, term: this.term, kind, data }
    this.log.append([entry])
    this.uncommittedBytes += data.length
    // Our own match moves only when `advance` confirms the entry durable: followers may receive it
    // (and even commit it without us) while we are still writing it (thesis §10.2.1).
    if (kind === 'config') this.afterLogChange([entry])
    this.appendPending = true
    return index
  }

  private flushBroadcasts(): void {
    if (this.role !== 'leader') {
      this.appendPending = false
      this.readBroadcastPending = false
      return
    }
    if (this.appendPending) {
      this.appendPending = false
      for (const member of this.progress.keys()) {
        if (member === this.id) continue
        while (this.sendAppend(member, false)) {
          // Pipeline batches until the in-flight window is full or the log is exhausted.
        }
      }
    }
    if (this.readBroadcastPending) {
      this.readBroadcastPending = false
      this.broadcastHeartbeat()
    }
  }

  /** Sends the follower its next entries (or a snapshot); returns whether a message went out. */
  private sendAppend(to: ReplicaId, sendIfEmpty: boolean): boolean {
    const progress = this.progress.get(to)
    if (progress === undefined || progress.isPaused()) return false
    const prevIndex = progress.next - 1
    const prevTerm = this.log.term(prevIndex)
    if (prevTerm === undefined) {
      this.startSnapshot(to, progress)
      return true
    }
    const lastIndex = this.log.lastIndex()
    const entries =
      progress.next <= lastIndex
        ? this.log.slice(
            progress.next,
            lastIndex,
            this.options.entriesPerAppendMax,
            this.options.bytesPerAppendMax,
          )
        : []
    if (entries.length === 0 && !sendIfEmpty) return false
    this.send(to, {
      type: 'append',
      term: this.term,
      prevIndex,
      prevTerm,
      entries,
      commit: this.log.committed,
    })
    const last = entries[entries.length - 1]
    if (last !== undefined) progress.sentEntries(last.index)
    else if (progress.state === 'probe') progress.probeSent = true
    return true
  }

  private startSnapshot(to: ReplicaId, progress: Progress): void {
    const snapshot = this.snapshot
    assert(snapshot !== null, 'the log is compacted but no snapshot is held to send')
    progress.becomeSnapshot(snapshot.meta.index)
    this.sendSnapshotChunk(to, progress)
  }

  private sendSnapshotChunk(to: ReplicaId, progress: Progress): void {
    const snapshot = this.snapshot!
    if (snapshot.meta.index !== progress.snapshotIndex) progress.becomeSnapshot(snapshot.meta.index)
    const offset = progress.snapshotOffset
    // A snapshot held in pieces is read chunk by chunk; only a chunk spanning two pieces is copied.
    const data = sliceBytes(snapshot.data, offset, offset + this.options.snapshotChunkBytesMax)
    this.send(to, {
      type: 'snapshot',
      term: this.term,
      meta: snapshot.meta,
      totalBytes: snapshot.data.length,
      offset,
      data,
    })
    progress.snapshotStalled = false
  }

  private handleSnapshotResponse(from: ReplicaId, message: SnapshotResponse): void {
    const progress = this.progress.get(from)
    if (progress === undefined) return
    progress.recentActive = true
    if (progress.state !== 'snapshot' || message.index !== progress.snapshotIndex) return
    if (message.offset <= progress.snapshotOffset && message.offset !== 0) return
    progress.snapshotOffset = message.offset
    progress.snapshotStalled = false
    if (message.offset < (this.snapshot?.data.length ?? 0)) this.sendSnapshotChunk(from, progress)
  }

  private handleAppendResponse(from: ReplicaId, message: AppendResponse): void {
    const progress = this.progress.get(from)
    if (progress === undefined) return
    progress.recentActive = true
    if (message.reject) {
      if (progress.state === 'snapshot') return
      let hint = message.hintIndex
      if (message.hintTerm > 0) hint = this.log.findConflictByTerm(message.hintIndex, message.hintTerm)
      if (progress.maybeDecrease(message.index, hint)) {
        if (progress.state === 'replicate') progress.becomeProbe()
        this.sendAppend(from, true)
      }
      return
    }
    const wasPaused = progress.isPaused()
    if (
      progress.maybeUpdate(message.index) ||
      (progress.match === message.index && progress.state === 'probe')
    ) {
      if (progress.state === 'probe') progress.becomeReplicate()
      else if (progress.state === 'snapshot' && progress.match >= progress.snapshotIndex) {
        progress.becomeProbe()
        progress.becomeReplicate()
      } else if (progress.state === 'replicate') progress.freeInflightThrough(message.index)

      if (this.maybeCommit()) this.appendPending = true
      else if (wasPaused) this.sendAppend(from, true)
      while (this.sendAppend(from, false)) {
        // Fill the in-flight window.
      }
      if (from === this.transferee && progress.match === this.log.lastIndex()) {
        this.send(from, { type: 'timeout-now', term: this.term })
      }
    }
  }

  private handleHeartbeatResponse(from: ReplicaId, message: HeartbeatResponse): void {
    const progress = this.progress.get(from)
    if (progress === undefined) return
    progress.recentActive = true
    progress.probeSent = false
    if (progress.state === 'replicate' && progress.inflightFull()) progress.freeFirstInflight()
    if (progress.state === 'snapshot') {
      // A chunk answered by nothing for a whole heartbeat was lost: send it again.
      if (progress.snapshotStalled) this.sendSnapshotChunk(from, progress)
      else progress.snapshotStalled = true
    } else if (progress.match < this.log.lastIndex()) {
      this.sendAppend(from, true)
    }
    if (message.round > progress.roundAcked) {
      progress.roundAcked = message.round
      this.confirmReads()
    }
  }

  /** §5.4.2: advance commit to the quorum-acknowledged index only for an entry of our own term. */
  private maybeCommit(): boolean {
    const quorumIndex = majorityCommittedIndex(this.membership.voters, (id) => this.progress.get(id)?.match)
    const candidate = Math.min(quorumIndex, this.log.lastIndex())
    if (candidate <= this.log.committed || this.log.term(candidate) !== this.term) return false
    const before = this.log.committed
    const hadOwnTermCommit = this.log.term(before) === this.term
    this.log.commitTo(candidate)
    for (let index = before + 1; index <= candidate; index++) {
      this.uncommittedBytes -= this.log.entry(index)?.data.length ?? 0
    }
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0
    if (!hadOwnTermCommit) {
      const waiting = this.readsAwaitingCommit
      this.readsAwaitingCommit = []
      for (const context of waiting) this.admitRead(context)
    }
    if (!this.membership.voters.includes(this.id) && this.log.committed >= this.membershipIndex) {
      this.stepDownAfterRemoval()
    }
    return true
  }

  /** The leader's own removal committed: hand over to the most caught-up voter and step down. */
  private stepDownAfterRemoval(): void {
    let best: ReplicaId | null = null
    let bestMatch = -1
    for (const voter of this.membership.voters) {
      const match = this.progress.get(voter)?.match ?? 0
      if (match > bestMatch) {
        best = voter
        bestMatch = match
      }
    }
    // Followers learn the commit index from the next append; send it before stepping down.
    for (const member of this.progress.keys()) if (member !== this.id) this.sendAppend(member, true)
    if (best !== null && bestMatch === this.log.lastIndex())
      this.send(best, { type: 'timeout-now', term: this.term })
    this.becomeFollower(this.term, null)
  }

  // ---------------------------------------------------------------------------------------------
  // Reads (thesis §6.4)

  private admitRead(context: string): void {
    const index = this.log.committed
    if (this.membership.voters.length === 1 && this.membership.voters[0] === this.id) {
      this.readyReads.push({ context, index })
      return
    }
    if (this.leaseValid()) {
      this.readyReads.push({ context, index })
      return
    }
    this.pendingReads.push({ context, index, round: this.heartbeatRound + 1 })
    this.readBroadcastPending = true
  }

  private leaseValid(): boolean {
    if (!this.options.leaseReads || this.transferee !== null) return false
    // Followers refuse votes for electionTimeoutTicks after the round that confirmed us; one tick of
    // margin covers the follower having received it a tick after we sent it.
    return this.tickCount < this.leaseStartTick + this.options.electionTimeoutTicks - 1
  }

  private broadcastHeartbeat(): void {
    this.heartbeatRound++
    this.roundsSent.push({ round: this.heartbeatRound, tick: this.tickCount })
    if (this.roundsSent.length > 4096) this.roundsSent.shift()
    for (const [member, progress] of this.progress) {
      if (member === this.id) continue
      this.send(member, {
        type: 'heartbeat',
        term: this.term,
        commit: Math.min(progress.match, this.log.committed),
        round: this.heartbeatRound,
      })
    }
    this.confirmReads()
  }

  private confirmReads(): void {
    const round = majorityCommittedIndex(this.membership.voters, (id) =>
      id === this.id ? this.heartbeatRound : this.progress.get(id)?.roundAcked,
    )
    if (round <= this.confirmedRound) return
    this.confirmedRound = round
    while (this.roundsSent.length > 0 && this.roundsSent[0]!.round <= round) {
      const sent = this.roundsSent.shift()!
      if (sent.round === round) this.leaseStartTick = sent.tick
    }
    let served = 0
    while (served < this.pendingReads.length && this.pendingReads[served]!.round <= round) {
      const read = this.pendingReads[served]!
      this.readyReads.push({ context: read.context, index: read.index })
      served++
    }
    if (served > 0) this.pendingReads.splice(0, served)
  }

  // ---------------------------------------------------------------------------------------------
  // Membership

  /**
   * Config entries take effect when appended and are undone when truncated, so the configuration is
   * recomputed whenever new config entries arrive or the entry that defined it was replaced.
   */
  private afterLogChange(appended: readonly LogEntry[]): void {
    const replaced =
      this.membershipIndex > this.log.snapshotIndex() &&
      this.log.entry(this.membershipIndex)?.kind !== 'config'
    if (replaced || appended.some((entry) => entry.kind === 'config')) this.recomputeMembership()
  }

  private recomputeMembership(): void {
    const previous = this.membership
    let found: { index: number; membership: Membership } | null = null
    for (let index = this.log.lastIndex(); index > this.log.snapshotIndex(); index--) {
      const entry = this.log.entry(index)!
      if (entry.kind === 'config') {
        found = { index, membership: decodeMembership(entry.data, `log[${index}]`) }
        break
      }
    }
    if (found === null) {
      this.membership = this.snapshotMembership
      this.membershipIndex = this.log.snapshotIndex()
    } else {
      this.membership = found.membership
      this.membershipIndex = found.index
    }
    if (previous !== this.membership && this.role === 'leader') this.syncProgressWithMembership()
  }

  private syncProgressWithMembership(): void {
    for (const member of [...this.membership.voters, ...this.membership.learners]) this.addProgress(member)
    for (const member of [...this.progress.keys()]) {
      if (member !== this.id && !isMember(this.membership, member)) this.progress.delete(member)
    }
    if (this.transferee !== null && !this.membership.voters.includes(this.transferee)) this.transferee = null
  }

  private membershipAt(index: number): Membership {
    assert(index >= this.log.snapshotIndex(), 'membershipAt: index is compacted')
    for (
      let position = Math.min(index, this.log.lastIndex());
      position > this.log.snapshotIndex();
      position--
    ) {
      const entry = this.log.entry(position)!
      if (entry.kind === 'config') return decodeMembership(entry.data, `log[${position}]`)
    }
    return this.snapshotMembership
  }

  // ---------------------------------------------------------------------------------------------
  // Output

  private send(to: ReplicaId, message: RaftMessage): void {
    this.outbox.push({ to, message })
  }

  private hardStateChanged(): boolean {
    const persisted = this.persistedHardState
    return (
      persisted.term !== this.term || persisted.vote !== this.vote || persisted.commit !== this.log.committed
    )
  }

  private statusChanged(): boolean {
    const last = this.lastStatus
    return (
      last === null ||
      last.role !== this.role ||
      last.leader !== this.leader ||
      last.term !== this.term ||
      last.commitIndex !== this.log.committed ||
      last.voters !== this.membership.voters ||
      last.learners !== this.membership.learners
    )
  }
}

const ok = { ok: true } as const

/** Leader-to-follower traffic, which promises nothing about the sender's storage. */
function mayPrecedePersist(outbound: OutboundMessage<RaftMessage>): boolean {
  const { type } = outbound.message
  return type === 'append' || type === 'heartbeat' || type === 'snapshot'
}
