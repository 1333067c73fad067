import { ConfigError, assert, checkLimit, checkNumber } from '@socketcloud/core'
import type { NodeId, Random } from '@socketcloud/core'
import { GossipQueue } from './gossip-queue'
import type { MemberStatus, MemberUpdate, MembershipMessage } from './messages'
import { GOSSIP_UPDATES_DECODE_MAX } from './messages'
import { PhiAccrualDetector, levelOf, resolvePhiAccrualOptions } from './phi'
import type { HealthLevel, PhiAccrualOptions, ResolvedPhiAccrualOptions } from './phi'
import { SplitBrainResolver } from './split-brain'
import type { Decision, ResolverMember, SplitBrainResolverOptions } from './split-brain'

/**
 * Options of the membership protocol. The defaults target a LAN: 100 ms heartbeats, a crashed peer
 * declared failed in well under a second, and no false alarm over hours of 1% loss and ±20 ms jitter
 * (see the package README for the measurements and the trade-off).
 */
export interface MembershipInit {
  /** Period of the protocol: every period each node pings its monitored peers. @default 100 */
  readonly heartbeatIntervalMs?: number
  /** Peers each node monitors with a phi detector (its successors on a ring of ids), like Akka's monitored-by-nr-of-members. @default 9 */
  readonly monitoredPeersMax?: number
  /** Phi detector settings; the defaults below replace Akka's for 100 ms heartbeats. */
  readonly detector?: PhiAccrualOptions
  /** How long a monitored peer may stay silent, from the moment it starts being monitored, before its detector starts counting. @default heartbeatIntervalMs */
  readonly expectedResponseAfterMs?: number
  /** How long a member stays suspect without refuting before it is declared dead. @default 2000 */
  readonly suspicionTimeoutMs?: number
  /** λ in the retransmit limit λ·⌈log10(n+1)⌉ of each gossiped update. @default 4 */
  readonly gossipRetransmitMultiplier?: number
  /** Gossip updates piggybacked on one ping or ack. @default 16 */
  readonly piggybackUpdatesMax?: number
  /** Members a view may hold; updates about more are refused and counted. @default 10000 */
  readonly membersMax?: number
  /**
   * Members asked to ping a peer on our behalf (SWIM's ping-req) while its phi is at `suspect` or
   * above. A fresh indirect answer keeps a peer we cannot reach directly from being suspected, so a
   * single broken link does not flap a live member. 0 turns indirect probes off. @default 3
   */
  readonly indirectProbes?: number
  /**
   * A gap between two ticks longer than this means this process itself was paused (GC, swap, a
   * suspended VM): every peer would look silent at once. After such a gap no peer is judged until
   * `expectedResponseAfterMs` + one period has passed, giving fresh acks time to arrive. Cassandra
   * guards convictions the same way. @default 3 × heartbeatIntervalMs
   */
  readonly localPauseMs?: number
  /** Our indirect probes awaiting an answer; beyond it no new ones are sent until some expire. @default 64 */
  readonly indirectProbesPendingMax?: number
  /** Pings made on others' behalf awaiting the target's ack; ping-reqs beyond it are ignored. @default 256 */
  readonly relayedPingsMax?: number
  /** Split-brain resolution; without it the decision is always `up`. */
  readonly splitBrain?: SplitBrainResolverOptions
}

/** Detector defaults for 100 ms heartbeats: fails after ≈ mean + 400 ms + 5.2·50 ms ≈ 760 ms of silence. */
export const MEMBERSHIP_DETECTOR_DEFAULTS = Object.freeze({
  threshold: 8,
  suspectThreshold: 3,
  sampleSizeMax: 200,
  minStdDeviationMs: 50,
  acceptableHeartbeatPauseMs: 400,
})

export const MEMBERSHIP_DEFAULTS = Object.freeze({
  heartbeatIntervalMs: 100,
  monitoredPeersMax: 9,
  suspicionTimeoutMs: 2000,
  gossipRetransmitMultiplier: 4,
  piggybackUpdatesMax: 16,
  membersMax: 10_000,
  indirectProbes: 3,
  indirectProbesPendingMax: 64,
  relayedPingsMax: 256,
})

export interface MembershipComponents {
  readonly localId: NodeId
  /** Seeded randomness for the probe order. */
  readonly random: Random
  /**
   * The configured member set, the same list on every node (this node included or not). The list
   * order gives each member its upNumber (its age for keep-oldest).
   */
  readonly members: readonly NodeId[]
}

export interface MemberView {
  readonly id: NodeId
  readonly status: MemberStatus
  readonly incarnation: number
  readonly upNumber: number
}

export type RefusalReason = 'UNKNOWN_SENDER' | 'MEMBER_LEFT' | 'MEMBERS_FULL'

export type MembershipEvent =
  /** A monitored peer's phi crossed a threshold. `silentForMs` is the time since its last heartbeat. */
  | {
      readonly type: 'level'
      readonly peer: NodeId
      readonly from: HealthLevel
      readonly to: HealthLevel
      readonly phi: number
      readonly silentForMs: number
    }
  | {
      readonly type: 'status'
      readonly member: NodeId
      readonly from: MemberStatus | undefined
      readonly to: MemberStatus
      readonly incarnation: number
    }
  | { readonly type: 'decision'; readonly decision: Decision }
  | { readonly type: 'refused'; readonly from: NodeId; readonly reason: RefusalReason }

export interface OutgoingMessage {
  readonly to: NodeId
  readonly message: MembershipMessage
}

/**
 * What one call produced. The driver sends `messages` (in order; none needs persisting, the protocol
 * keeps no durable state) and reports `events`.
 */
export interface MembershipOutput {
  readonly messages: OutgoingMessage[]
  readonly events: MembershipEvent[]
}

interface MemberRecord {
  readonly id: NodeId
  status: MemberStatus
  incarnation: number
  upNumber: number
  suspectedAtMs: number
}

interface MonitoredPeer {
  readonly detector: PhiAccrualDetector
  readonly monitoredSinceMs: number
  level: HealthLevel
  lastAckedSeq: number
  /** When someone else last reached this peer for us (indirect ack). */
  indirectAckAtMs: number | undefined
  /** Until when the last batch of indirect probes may still be answered. */
  indirectDeadlineMs: number
}

interface PendingIndirectProbe {
  readonly targetHex: string
  readonly expiresAtMs: number
}

interface RelayedPing {
  readonly requester: NodeId
  readonly requesterSeq: number
  readonly target: NodeId
  readonly expiresAtMs: number
}

export interface MembershipStats {
  refused: Record<RefusalReason, number>
  pingsSent: number
  acksReceived: number
  refutations: number
  indirectProbesSent: number
  indirectAcksReceived: number
  /** Indirect probes or relays skipped because their pending limit was reached. */
  indirectProbesDropped: number
  /** Gaps between ticks long enough to mean this process was paused. */
  localPauses: number
}

/**
 * The SWIM-style membership protocol with phi accrual detection, as a pure state machine. Each
 * period a node pings the peers it monitors (its successors on the id ring) and one more member in
 * round-robin random order; acks feed each monitored peer's phi detector. A monitored peer whose phi
 * reaches the failure threshold is suspected; the suspicion spreads by gossip piggybacked on pings and
 * acks; the member refutes it by raising its incarnation, or is declared dead once
 * `suspicionTimeoutMs` has passed. Dead members keep being probed, so after a partition heals they
 * refute and the views merge.
 *
 * Inputs: `tick(now)` for time, `step(from, message, now)` for a decoded message. Outputs: messages to
 * send and events. No I/O, no clock, randomness only from the injected `Random`.
 */
export class Membership {
  readonly localId: NodeId
  readonly heartbeatIntervalMs: number
  readonly monitoredPeersMax: number
  readonly expectedResponseAfterMs: number
  readonly suspicionTimeoutMs: number
  readonly piggybackUpdatesMax: number
  readonly membersMax: number
  readonly indirectProbes: number
  readonly localPauseMs: number
  readonly indirectProbesPendingMax: number
  readonly relayedPingsMax: number
  readonly detectorOptions: ResolvedPhiAccrualOptions
  readonly stats: MembershipStats = {
    refused: { UNKNOWN_SENDER: 0, MEMBER_LEFT: 0, MEMBERS_FULL: 0 },
    pingsSent: 0,
    acksReceived: 0,
    refutations: 0,
    indirectProbesSent: 0,
    indirectAcksReceived: 0,
    indirectProbesDropped: 0,
    localPauses: 0,
  }

  private readonly random: Random
  private readonly gossip: GossipQueue
  private readonly records = new Map<string, MemberRecord>()
  private readonly self: MemberRecord
  private readonly monitored = new Map<string, MonitoredPeer>()
  private readonly resolver: SplitBrainResolver | undefined
  private ringDirty = true
  /** Members that have not left, cached: piggybacking needs it for every message. */
  private activeCountCache: number | undefined
  private readonly suspects = new Set<MemberRecord>()
  private readonly indirectPending = new Map<number, PendingIndirectProbe>()
  private readonly relayed = new Map<number, RelayedPing>()
  private lastTickAtMs: number | undefined
  private judgementHeldUntilMs = Number.NEGATIVE_INFINITY
  private probeOrder: string[] = []
  private nextRoundAtMs: number | undefined
  private seq = 0
  private decisionValue: Decision = 'up'
  private output: MembershipOutput = { messages: [], events: [] }

  constructor(components: MembershipComponents, init: MembershipInit = {}) {
    this.localId = components.localId
    this.random = components.random
    this.heartbeatIntervalMs = checkNumber(
      'heartbeatIntervalMs',
      init.heartbeatIntervalMs ?? MEMBERSHIP_DEFAULTS.heartbeatIntervalMs,
      1,
    )
    this.monitoredPeersMax = checkLimit(
      'monitoredPeersMax',
      init.monitoredPeersMax ?? MEMBERSHIP_DEFAULTS.monitoredPeersMax,
    )
    this.expectedResponseAfterMs = checkNumber(
      'expectedResponseAfterMs',
      init.expectedResponseAfterMs ?? this.heartbeatIntervalMs,
    )
    this.suspicionTimeoutMs = checkNumber(
      'suspicionTimeoutMs',
      init.suspicionTimeoutMs ?? MEMBERSHIP_DEFAULTS.suspicionTimeoutMs,
    )
    this.piggybackUpdatesMax = checkLimit(
      'piggybackUpdatesMax',
      init.piggybackUpdatesMax ?? MEMBERSHIP_DEFAULTS.piggybackUpdatesMax,
      0,
      GOSSIP_UPDATES_DECODE_MAX,
    )
    this.membersMax = checkLimit('membersMax', init.membersMax ?? MEMBERSHIP_DEFAULTS.membersMax, 1)
    this.indirectProbes = checkLimit(
      'indirectProbes',
      init.indirectProbes ?? MEMBERSHIP_DEFAULTS.indirectProbes,
      0,
      64,
    )
    this.localPauseMs = checkNumber('localPauseMs', init.localPauseMs ?? 3 * this.heartbeatIntervalMs, 1)
    this.indirectProbesPendingMax = checkLimit(
      'indirectProbesPendingMax',
      init.indirectProbesPendingMax ?? MEMBERSHIP_DEFAULTS.indirectProbesPendingMax,
    )
    this.relayedPingsMax = checkLimit(
      'relayedPingsMax',
      init.relayedPingsMax ?? MEMBERSHIP_DEFAULTS.relayedPingsMax,
    )
    this.detectorOptions = resolvePhiAccrualOptions({
      ...MEMBERSHIP_DETECTOR_DEFAULTS,
      firstHeartbeatEstimateMs: this.heartbeatIntervalMs,
      ...init.detector,
    })
    this.gossip = new GossipQueue(
      init.gossipRetransmitMultiplier ?? MEMBERSHIP_DEFAULTS.gossipRetransmitMultiplier,
    )
    if (components.members.length > this.membersMax) {
      throw new ConfigError(
        `${components.members.length} configured members exceed membersMax ${this.membersMax}`,
      )
    }
    components.members.forEach((id, index) => {
      if (this.records.has(id.hex)) throw new ConfigError(`member ${id.toShortString()} is configured twice`)
      this.records.set(id.hex, { id, status: 'alive', incarnation: 0, upNumber: index, suspectedAtMs: 0 })
    })
    let self = this.records.get(this.localId.hex)
    if (!self) {
      self = {
        id: this.localId,
        status: 'alive',
        incarnation: 0,
        upNumber: components.members.length,
        suspectedAtMs: 0,
      }
      this.records.set(self.id.hex, self)
      this.gossip.enqueue(toUpdate(self))
    }
    this.self = self
    this.resolver = init.splitBrain
      ? new SplitBrainResolver(init.splitBrain, this.activeRecords().length)
      : undefined
  }

  /** This node's decision under the configured split-brain strategy. */
  get decision(): Decision {
    return this.decisionValue
  }

  get incarnation(): number {
    return this.self.incarnation
  }

  /** This node's view: every member it knows, itself included, in the order it learnt of them. */
  members(): MemberView[] {
    return [...this.records.values()].map(toView)
  }

  member(id: NodeId): MemberView | undefined {
    const record = this.records.get(id.hex)
    return record && toView(record)
  }

  /** Peers this node currently monitors with a phi detector. */
  monitoredPeers(): NodeId[] {
    this.refreshRing(undefined)
    return [...this.monitored.keys()].map((hex) => this.records.get(hex)!.id)
  }

  /** Current phi for a monitored peer; undefined when this node does not monitor it. */
  phi(peer: NodeId, nowMs: number): number | undefined {
    return this.monitored.get(peer.hex)?.detector.phi(nowMs)
  }

  level(peer: NodeId): HealthLevel | undefined {
    return this.monitored.get(peer.hex)?.level
  }

  /** Pending gossip updates (for tests and metrics). */
  get gossipBacklog(): number {
    return this.gossip.size
  }

  /** Advances time: runs a protocol round when due, evaluates detectors, suspicions and the resolver. */
  tick(nowMs: number): MembershipOutput {
    assert(Number.isFinite(nowMs), 'time must be finite')
    if (this.lastTickAtMs !== undefined && nowMs - this.lastTickAtMs > this.localPauseMs) {
      this.judgementHeldUntilMs = nowMs + this.expectedResponseAfterMs + this.heartbeatIntervalMs
      this.stats.localPauses += 1
    }
    this.lastTickAtMs = nowMs
    this.refreshRing(nowMs)
    this.expireIndirectProbes(nowMs)
    if (this.nextRoundAtMs === undefined || nowMs >= this.nextRoundAtMs) {
      this.runRound(nowMs)
      // Rounds keep their cadence even when ticks are late; a very late tick skips missed rounds.
      const next = (this.nextRoundAtMs ?? nowMs) + this.heartbeatIntervalMs
      this.nextRoundAtMs = next > nowMs ? next : nowMs + this.heartbeatIntervalMs
    }
    this.evaluateDetectors(nowMs)
    this.expireSuspicions(nowMs)
    this.evaluateResolver(nowMs)
    return this.flush()
  }

  /** Handles one decoded message from `from` (the authenticated transport peer). */
  step(from: NodeId, message: MembershipMessage, nowMs: number): MembershipOutput {
    const sender = this.records.get(from.hex)
    if (!sender || from.equals(this.localId)) {
      this.refuse(from, 'UNKNOWN_SENDER')
      return this.flush()
    }
    if (sender.status === 'left') {
      this.refuse(from, 'MEMBER_LEFT')
      return this.flush()
    }
    for (const update of message.gossip) this.apply(update, nowMs)
    switch (message.type) {
      case 'ping':
        this.send(from, { type: 'ack', seq: message.seq, gossip: this.piggyback(sender) })
        break
      case 'ack':
        this.receiveAck(sender, message.seq, nowMs)
        break
      case 'ping-req':
        this.relayPing(sender, message.seq, message.target, nowMs)
        break
      case 'indirect-ack':
        this.receiveIndirectAck(message.seq, message.target, nowMs)
        break
    }
    this.refreshRing(nowMs)
    this.evaluateDetectors(nowMs)
    return this.flush()
  }

  /** Admits a new member (for example one the node app authenticated); its upNumber is the next free one. */
  addMember(id: NodeId, nowMs: number): MembershipOutput {
    const upNumber = Math.max(...[...this.records.values()].map((record) => record.upNumber)) + 1
    this.apply({ member: id, status: 'alive', incarnation: 0, upNumber }, nowMs)
    return this.flush()
  }

  /** Leaves gracefully: announces `left` to the members this node pings next. */
  leave(): MembershipOutput {
    this.self.incarnation += 1
    this.setStatus(this.self, 'left')
    this.gossip.enqueue(toUpdate(this.self))
    // One last round carries the news; the members it reaches spread it by gossip.
    const targets = [...this.monitored.keys()].map((hex) => this.records.get(hex)!)
    const probe = this.nextProbeTarget()
    if (probe) targets.unshift(probe)
    for (const target of targets) {
      this.send(target.id, { type: 'ping', seq: ++this.seq, gossip: this.piggyback(target) })
    }
    return this.flush()
  }

  private runRound(nowMs: number): void {
    if (this.self.status === 'left') return
    const probe = this.nextProbeTarget()
    if (probe) this.ping(probe)
    for (const [hex, peer] of this.monitored) {
      const record = this.records.get(hex)!
      this.ping(record)
      if (peer.level !== 'healthy' && record.status === 'alive') this.probeIndirectly(record, peer, nowMs)
    }
  }

  private receiveAck(sender: MemberRecord, seq: number, nowMs: number): void {
    this.stats.acksReceived += 1
    const peer = this.monitored.get(sender.id.hex)
    // Only the first ack of each ping counts: a duplicated or late ack is not a fresh heartbeat.
    if (peer && seq > peer.lastAckedSeq) {
      peer.lastAckedSeq = seq
      peer.detector.heartbeat(nowMs)
    }
    const relayed = this.relayed.get(seq)
    if (relayed && relayed.target.equals(sender.id)) {
      this.relayed.delete(seq)
      const requester = this.records.get(relayed.requester.hex)
      if (requester && requester.status !== 'left') {
        this.send(requester.id, {
          type: 'indirect-ack',
          seq: relayed.requesterSeq,
          target: relayed.target,
          gossip: this.piggyback(requester),
        })
      }
    }
  }

  /**
   * Asks up to `indirectProbes` random alive members to ping `target` for us, unless a previous
   * batch is still within its deadline (two periods).
   */
  private probeIndirectly(target: MemberRecord, peer: MonitoredPeer, nowMs: number): void {
    if (this.indirectProbes === 0 || nowMs < peer.indirectDeadlineMs) return
    const relays = this.activeRecords().filter(
      (record) => record !== this.self && record !== target && record.status === 'alive',
    )
    for (let chosen = 0; chosen < this.indirectProbes && relays.length > 0; chosen++) {
      if (this.indirectPending.size >= this.indirectProbesPendingMax) {
        this.stats.indirectProbesDropped += 1
        return
      }
      const index = this.random.nextInt(relays.length)
      const relay = relays[index]!
      relays[index] = relays[relays.length - 1]!
      relays.pop()
      const seq = ++this.seq
      this.indirectPending.set(seq, {
        targetHex: target.id.hex,
        expiresAtMs: nowMs + 2 * this.heartbeatIntervalMs,
      })
      this.stats.indirectProbesSent += 1
      peer.indirectDeadlineMs = nowMs + 2 * this.heartbeatIntervalMs
      this.send(relay.id, { type: 'ping-req', seq, target: target.id, gossip: this.piggyback(relay) })
    }
  }

  private relayPing(requester: MemberRecord, requesterSeq: number, targetId: NodeId, nowMs: number): void {
    const target = this.records.get(targetId.hex)
    if (!target || target === this.self || target.status === 'left' || target === requester) return
    if (this.relayed.size >= this.relayedPingsMax) {
      this.stats.indirectProbesDropped += 1
      return
    }
    const seq = ++this.seq
    this.relayed.set(seq, {
      requester: requester.id,
      requesterSeq,
      target: target.id,
      expiresAtMs: nowMs + 2 * this.heartbeatIntervalMs,
    })
    this.send(target.id, { type: 'ping', seq, gossip: this.piggyback(target) })
  }

  private receiveIndirectAck(seq: number, target: NodeId, nowMs: number): void {
    const pending = this.indirectPending.get(seq)
    if (!pending || pending.targetHex !== target.hex) return
    this.indirectPending.delete(seq)
    this.stats.indirectAcksReceived += 1
    const peer = this.monitored.get(target.hex)
    if (peer) peer.indirectAckAtMs = nowMs
  }

  private expireIndirectProbes(nowMs: number): void {
    for (const [seq, pending] of this.indirectPending) {
      if (pending.expiresAtMs <= nowMs) this.indirectPending.delete(seq)
    }
    for (const [seq, relayed] of this.relayed) {
      if (relayed.expiresAtMs <= nowMs) this.relayed.delete(seq)
    }
  }

  /** Whether someone else reached `peer` for us recently enough to hold off suspecting it. */
  private reachedIndirectly(peer: MonitoredPeer, nowMs: number): boolean {
    return peer.indirectAckAtMs !== undefined && nowMs - peer.indirectAckAtMs <= 3 * this.heartbeatIntervalMs
  }

  private ping(target: MemberRecord): void {
    this.stats.pingsSent += 1
    this.send(target.id, { type: 'ping', seq: ++this.seq, gossip: this.piggyback(target) })
  }

  /** Round-robin over a shuffled list of the members not monitored anyway (SWIM's probe order). */
  private nextProbeTarget(): MemberRecord | undefined {
    for (let attempts = 0; attempts < 2; attempts++) {
      while (this.probeOrder.length > 0) {
        const record = this.records.get(this.probeOrder.pop()!)
        if (
          record &&
          record !== this.self &&
          record.status !== 'left' &&
          !this.monitored.has(record.id.hex)
        ) {
          return record
        }
      }
      const candidates = this.activeRecords()
        .filter((record) => record !== this.self && !this.monitored.has(record.id.hex))
        .map((record) => record.id.hex)
      for (let i = candidates.length - 1; i > 0; i--) {
        const j = this.random.nextInt(i + 1)
        ;[candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!]
      }
      this.probeOrder = candidates
    }
    return undefined
  }

  private piggyback(target: MemberRecord): MemberUpdate[] {
    const aboutTarget = target.status === 'alive' ? undefined : toUpdate(target)
    this.activeCountCache ??= this.activeRecords().length
    return this.gossip.take(this.piggybackUpdatesMax, this.activeCountCache, aboutTarget)
  }

  /** Applies one gossiped fact with SWIM's precedence rules; refutes facts that wrong this node. */
  private apply(update: MemberUpdate, nowMs: number): void {
    if (update.member.equals(this.localId)) {
      this.applyAboutSelf(update)
      return
    }
    const known = this.records.get(update.member.hex)
    if (!known) {
      if (update.status !== 'alive' && update.status !== 'suspect') return
      if (this.records.size >= this.membersMax) {
        this.refuse(update.member, 'MEMBERS_FULL')
        return
      }
      const record: MemberRecord = {
        id: update.member,
        status: update.status,
        incarnation: update.incarnation,
        upNumber: update.upNumber,
        suspectedAtMs: nowMs,
      }
      this.records.set(record.id.hex, record)
      this.ringDirty = true
      this.activeCountCache = undefined
      if (record.status === 'suspect') this.suspects.add(record)
      this.output.events.push({
        type: 'status',
        member: record.id,
        from: undefined,
        to: record.status,
        incarnation: record.incarnation,
      })
      this.gossip.enqueue(update)
      return
    }
    if (!overrides(update, known)) return
    known.incarnation = update.incarnation
    known.upNumber = update.upNumber
    if (update.status === 'suspect' && known.status !== 'suspect') known.suspectedAtMs = nowMs
    const wasAlive = known.status === 'alive'
    this.setStatus(known, update.status)
    this.gossip.enqueue(toUpdate(known))
    if (update.status === 'alive' && !wasAlive && this.monitored.delete(known.id.hex)) {
      // A member that refuted our suspicion gets a fresh detector and a full expected-response
      // period to show life; if our link to it is really broken we suspect it again after that.
      this.ringDirty = true
    }
  }

  private applyAboutSelf(update: MemberUpdate): void {
    if (this.self.status === 'left') return
    if (update.status !== 'alive' && update.incarnation < this.self.incarnation) {
      // Bad news about an incarnation we already left behind: the sender missed our refutation
      // (typically across a partition), so tell it again without raising the incarnation.
      this.gossip.enqueue(toUpdate(this.self))
      return
    }
    const wrongs = update.status !== 'alive'
    const stale = update.status === 'alive' && update.incarnation > this.self.incarnation
    if (!wrongs && !stale) return
    this.self.incarnation = update.incarnation + 1
    this.stats.refutations += 1
    this.gossip.enqueue(toUpdate(this.self))
  }

  private suspect(record: MemberRecord, nowMs: number): void {
    if (record.status !== 'alive') return
    record.suspectedAtMs = nowMs
    this.setStatus(record, 'suspect')
    this.gossip.enqueue(toUpdate(record))
  }

  private setStatus(record: MemberRecord, status: MemberStatus): void {
    if (record.status === status) return
    const from = record.status
    record.status = status
    this.ringDirty = true
    this.activeCountCache = undefined
    if (status === 'suspect') this.suspects.add(record)
    else this.suspects.delete(record)
    this.output.events.push({
      type: 'status',
      member: record.id,
      from,
      to: status,
      incarnation: record.incarnation,
    })
  }

  private evaluateDetectors(nowMs: number): void {
    if (nowMs < this.judgementHeldUntilMs) return
    for (const [hex, peer] of this.monitored) {
      if (nowMs - peer.monitoredSinceMs >= this.expectedResponseAfterMs && !peer.detector.isMonitoring) {
        // Akka's "expected response after": a peer that never answered starts accruing suspicion
        // as if it had answered once, instead of staying at phi 0 forever.
        peer.detector.heartbeat(peer.monitoredSinceMs + this.expectedResponseAfterMs)
      }
      const phi = peer.detector.phi(nowMs)
      const level = levelOf(phi, this.detectorOptions)
      if (level !== peer.level) {
        const record = this.records.get(hex)!
        this.output.events.push({
          type: 'level',
          peer: record.id,
          from: peer.level,
          to: level,
          phi,
          silentForMs: nowMs - (peer.detector.lastHeartbeatAt ?? peer.monitoredSinceMs),
        })
        const wasHealthy = peer.level === 'healthy'
        peer.level = level
        // Ask others at once rather than at the next round, so their answer can arrive before
        // phi reaches the failure threshold.
        if (wasHealthy && record.status === 'alive') this.probeIndirectly(record, peer, nowMs)
      }
      // SWIM suspects only once the indirect probes have had their chance: none pending, none fresh.
      if (level === 'failed' && nowMs >= peer.indirectDeadlineMs && !this.reachedIndirectly(peer, nowMs)) {
        this.suspect(this.records.get(hex)!, nowMs)
      }
    }
  }

  private expireSuspicions(nowMs: number): void {
    for (const record of this.suspects) {
      if (nowMs - record.suspectedAtMs >= this.suspicionTimeoutMs) {
        this.setStatus(record, 'dead')
        this.gossip.enqueue(toUpdate(record))
      }
    }
  }

  private evaluateResolver(nowMs: number): void {
    if (!this.resolver) return
    const active = this.activeRecords()
    const members: ResolverMember[] = active.map((record) => ({ id: record.id, upNumber: record.upNumber }))
    const reachable = new Set(
      active.filter((record) => record.status === 'alive').map((record) => record.id.hex),
    )
    reachable.add(this.localId.hex)
    const decision = this.resolver.evaluate({ self: this.localId, members, reachable }, nowMs)
    if (decision !== this.decisionValue) {
      this.decisionValue = decision
      this.output.events.push({ type: 'decision', decision })
    }
  }

  /**
   * Recomputes the monitored set when the view changed: the `monitoredPeersMax` successors of this
   * node on the ring of alive and suspect members ordered by id. Ids are hashes, so every member is
   * monitored by about the same number of others.
   */
  private refreshRing(nowMs: number | undefined): void {
    if (!this.ringDirty) return
    this.ringDirty = false
    const ring = [...this.records.values()]
      .filter((record) => record === this.self || record.status === 'alive' || record.status === 'suspect')
      .map((record) => record.id.hex)
      .sort()
    const position = ring.indexOf(this.localId.hex)
    const wanted = new Set<string>()
    const count = Math.min(this.monitoredPeersMax, ring.length - 1)
    for (let offset = 1; offset <= count; offset++) wanted.add(ring[(position + offset) % ring.length]!)
    for (const hex of this.monitored.keys()) if (!wanted.has(hex)) this.monitored.delete(hex)
    for (const hex of wanted) {
      if (!this.monitored.has(hex)) {
        this.monitored.set(hex, {
          detector: new PhiAccrualDetector(this.detectorOptions),
          monitoredSinceMs: nowMs ?? this.nextRoundAtMs ?? 0,
          level: 'healthy',
          lastAckedSeq: this.seq,
          indirectAckAtMs: undefined,
          indirectDeadlineMs: Number.NEGATIVE_INFINITY,
        })
      }
    }
  }

  private activeRecords(): MemberRecord[] {
    return [...this.records.values()].filter((record) => record.status !== 'left')
  }

  private refuse(from: NodeId, reason: RefusalReason): void {
    this.stats.refused[reason] += 1
    this.output.events.push({ type: 'refused', from, reason })
  }

  private send(to: NodeId, message: MembershipMessage): void {
    this.output.messages.push({ to, message })
  }

  private flush(): MembershipOutput {
    const output = this.output
    this.output = { messages: [], events: [] }
    return output
  }
}

function toView(record: MemberRecord): MemberView {
  return { id: record.id, status: record.status, incarnation: record.incarnation, upNumber: record.upNumber }
}

function toUpdate(record: MemberRecord): MemberUpdate {
  return {
    member: record.id,
    status: record.status,
    incarnation: record.incarnation,
    upNumber: record.upNumber,
  }
}

const STATUS_RANK: Readonly<Record<MemberStatus, number>> = { alive: 0, suspect: 1, dead: 2, left: 3 }

/**
 * SWIM's precedence: whether `update` replaces what we know. A higher incarnation wins; at equal
 * incarnations worse news wins (left > dead > suspect > alive). This is a total order on
 * (incarnation, status), so every view converges to the same fact whatever order gossip arrives in.
 * `left` stays final in practice because a member that left never raises its incarnation again.
 */
export function overrides(update: MemberUpdate, known: MemberView | MemberRecord): boolean {
  if (update.incarnation !== known.incarnation) return update.incarnation > known.incarnation
  return STATUS_RANK[update.status] > STATUS_RANK[known.status]
}
