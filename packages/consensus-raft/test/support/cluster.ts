import { Simulation, type SimRandom } from '@socketcloud/sim'
import {
  BytesInParts,
  type HardState,
  type LogEntry,
  joinedBytes,
  type Ready,
  type ReadState,
  type ReplicaId,
  type Snapshot,
} from '@socketcloud/core'
import { RaftEngine, type RaftOptions, type RaftMessage, type MembershipChange } from '../../src/index'

/**
 * A deterministic, synchronous cluster harness for the engine alone (no driver), on
 * `@socketcloud/sim`'s `Simulation` (virtual milliseconds, one seed): a seeded network with latency, jitter (reordering), loss and duplication,
 * partitions, and crashes that lose every write not made durable by a `mustSync` Ready. It executes
 * each Ready exactly as the contract says (early sends, persist, send, apply, read, advance) and
 * checks the Raft safety properties after every Ready: election safety, log matching, leader
 * completeness and state machine safety, plus read linearizability for ReadIndex/lease reads. With
 * `diskLatencyMs`, a write takes time: the Ready's early messages (a leader's appends) are already
 * out, the engine keeps taking inputs, and a crash before the write completes loses it.
 */
export interface FaultOptions {
  latencyMs: number
  jitterMs: number
  dropRate: number
  duplicateRate: number
}

export interface ClusterOptions {
  seed: number
  voters: number
  /** Extra replicas, not members at start, that membership changes may add. */
  spares?: number
  raft?: Partial<RaftOptions>
  faults?: Partial<FaultOptions>
  tickMs?: number
  /**
   * Each replica's tick period is tickMs × (1 + d) with d drawn uniformly from ±tickDriftRatio: clock
   * rate drift. Lease reads assume it stays under one tick per election timeout. @default 0
   */
  tickDriftRatio?: number
  /** Compact the log once this many applied entries are past the snapshot (0 = never). */
  compactEveryEntries?: number
  /**
   * Hand each snapshot to `compact` as pieces of this many bytes (and an empty one), as a driver does
   * with a snapshot encoded in steps, instead of one array (0 = one array). @default 0
   */
  snapshotPieceBytes?: number
  /**
   * A Ready that writes completes after a delay drawn uniformly from [0, diskLatencyMs] virtual ms
   * (0 = at once, synchronously). Meanwhile the node steps messages and ticks, as a driver that does
   * not defer inputs does, and does not produce its next Ready. @default 0
   */
  diskLatencyMs?: number
}

/** What a replica keeps across a crash: what its Readies handed over for persisting. */
export interface DurableState {
  hardState: HardState | null
  entries: LogEntry[]
  compactedIndex: number
  compactedTerm: number
  snapshot: Snapshot | null
}

export class SimNode {
  engine!: RaftEngine
  alive = true
  /** What a crash keeps: everything written with (or before) a synced write. */
  durable: DurableState = {
    hardState: null,
    entries: [],
    compactedIndex: 0,
    compactedTerm: 0,
    snapshot: null,
  }
  /** The hard state as last written, synced or not. */
  writtenHardState: HardState | null = null
  appliedIndex = 0
  stateHash = 0
  readonly reads: ReadState[] = []
  readonly dropped: string[] = []
  /** A Ready's write is in progress: no next Ready until it completes. */
  persisting = false
  /** Bumped by every crash, so a write pending at the crash never completes. */
  incarnation = 0

  constructor(readonly id: ReplicaId) {}
}

export class InvariantViolation extends Error {}

const encoder = new TextEncoder()

function hashStep(previous: number, entry: LogEntry): number {
  let hash = (previous ^ Math.imul(entry.index, 0x9e3779b1) ^ Math.imul(entry.term, 0x85ebca6b)) >>> 0
  hash = Math.imul(hash ^ (entry.kind.length + 7), 0x01000193) >>> 0
  for (const byte of entry.data) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0
  return hash
}

function encodeState(index: number, hash: number): Uint8Array {
  return encoder.encode(JSON.stringify({ index, hash }))
}

function inPieces(bytes: Uint8Array, pieceBytes: number): BytesInParts {
  const pieces = [new Uint8Array(0)]
  for (let offset = 0; offset < bytes.length; offset += pieceBytes)
    pieces.push(bytes.slice(offset, offset + pieceBytes))
  return new BytesInParts(pieces)
}

function decodeState(bytes: Uint8Array): { index: number; hash: number } {
  return JSON.parse(new TextDecoder().decode(bytes)) as { index: number; hash: number }
}

export class Cluster {
  readonly sim: Simulation
  readonly random: SimRandom
  readonly nodes = new Map<ReplicaId, SimNode>()
  readonly ids: ReplicaId[]
  readonly initialVoters: ReplicaId[]
  faults: FaultOptions
  private sequence = 0
  private readonly blocked = new Set<string>()
  private readonly tickMs: number
  private readonly compactEveryEntries: number
  private readonly diskLatencyMs: number
  private readonly raftOptions: Partial<RaftOptions>

  // Safety bookkeeping.
  readonly leaderByTerm = new Map<number, ReplicaId>()
  private readonly entryByPosition = new Map<string, { dataHash: number; prevTerm: number | undefined }>()
  /** State hash after applying each index, as first observed; every replica must agree. */
  readonly stateAt = new Map<number, { term: number; hash: number; knownInTerm: number }>()
  private readonly wasLeader = new Map<ReplicaId, number>()
  committedIndexMax = 0
  readonly stats = { delivered: 0, dropped: 0, duplicated: 0, readys: 0, checks: 0, crashes: 0, elections: 0 }

  constructor(readonly options: ClusterOptions) {
    this.sim = new Simulation({ seed: options.seed })
    this.random = this.sim.random.fork()
    this.tickMs = options.tickMs ?? 10
    this.compactEveryEntries = options.compactEveryEntries ?? 0
    this.diskLatencyMs = options.diskLatencyMs ?? 0
    this.raftOptions = options.raft ?? {}
    this.faults = { latencyMs: 2, jitterMs: 3, dropRate: 0, duplicateRate: 0, ...options.faults }
    const total = options.voters + (options.spares ?? 0)
    this.ids = Array.from({ length: total }, (_, position) => `n${position + 1}`)
    this.initialVoters = this.ids.slice(0, options.voters)
    for (const id of this.ids) {
      const node = new SimNode(id)
      this.nodes.set(id, node)
      this.boot(node)
      const drift = options.tickDriftRatio ?? 0
      const period = this.tickMs * (1 + (this.random.nextFloat() * 2 - 1) * drift)
      const tick = (): void => {
        if (node.alive) {
          node.engine.tick()
          this.drainNode(node)
        }
        this.sim.schedule(period, 'raft.tick', tick)
      }
      this.sim.schedule(this.random.nextInt(this.tickMs) + 1, 'raft.tick', tick)
    }
  }

  get now(): number {
    return this.sim.now
  }

  node(id: ReplicaId): SimNode {
    const node = this.nodes.get(id)
    if (node === undefined) throw new Error(`no node ${id}`)
    return node
  }

  private boot(node: SimNode): void {
    const isInitial = this.initialVoters.includes(node.id)
    const { durable } = node
    node.engine = new RaftEngine({
      id: node.id,
      voters: isInitial ? this.initialVoters : [],
      random: this.random.fork(),
      hardState: durable.hardState,
      entries: durable.entries,
      compactedIndex: durable.compactedIndex,
      compactedTerm: durable.compactedTerm,
      snapshot: durable.snapshot,
      options: this.raftOptions,
    })
    node.writtenHardState = durable.hardState
    if (durable.snapshot !== null) {
      const state = decodeState(joinedBytes(durable.snapshot.data))
      node.appliedIndex = state.index
      node.stateHash = state.hash
    } else {
      node.appliedIndex = 0
      node.stateHash = 0
    }
  }

  crash(id: ReplicaId): void {
    const node = this.node(id)
    if (!node.alive) return
    node.alive = false
    node.persisting = false
    node.incarnation++
    this.stats.crashes++
    // Anything not synced is gone: only the durable hard state survives.
    node.writtenHardState = node.durable.hardState
  }

  restart(id: ReplicaId): void {
    const node = this.node(id)
    if (node.alive) return
    node.alive = true
    this.boot(node)
  }

  partition(groups: readonly (readonly ReplicaId[])[]): void {
    this.blocked.clear()
    for (const a of this.ids) {
      for (const b of this.ids) {
        if (a === b) continue
        const together = groups.some((group) => group.includes(a) && group.includes(b))
        if (!together) this.blocked.add(`${a}>${b}`)
      }
    }
  }

  isolate(id: ReplicaId): void {
    this.partition([[id], this.ids.filter((other) => other !== id)])
  }

  heal(): void {
    this.blocked.clear()
  }

  leader(): SimNode | undefined {
    let best: SimNode | undefined
    for (const node of this.nodes.values()) {
      if (!node.alive) continue
      const info = node.engine.inspect()
      if (info.role !== 'leader') continue
      if (best === undefined || info.term > best.engine.inspect().term) best = node
    }
    return best
  }

  propose(data: Uint8Array): boolean {
    const leader = this.leader()
    if (leader === undefined) return false
    const result = leader.engine.propose(data, `p${this.sequence}`)
    this.drain()
    return result.ok
  }

  /** Asks the leader for a read point; records the commit index any client could have seen already. */
  read(context: string): boolean {
    const leader = this.leader()
    if (leader === undefined) return false
    const result = leader.engine.readIndex(context)
    if (result.ok) this.readFloor.set(context, this.committedIndexMax)
    this.drain()
    return result.ok
  }
  private readonly readFloor = new Map<string, number>()

  changeMembership(change: MembershipChange): boolean {
    const leader = this.leader()
    if (leader === undefined) return false
    const result = leader.engine.proposeMembershipChange(change)
    this.drain()
    return result.ok
  }

  /** Runs the simulation for `milliseconds`, calling `onMillisecond` once per virtual millisecond. */
  runFor(milliseconds: number, onMillisecond?: () => void): void {
    if (onMillisecond !== undefined) {
      const end = this.now + milliseconds
      const everyMillisecond = (): void => {
        onMillisecond()
        if (this.now + 1 < end) this.sim.schedule(1, 'chaos', everyMillisecond)
      }
      this.sim.schedule(1, 'chaos', everyMillisecond)
    }
    this.sim.runFor(milliseconds)
  }

  runUntil(predicate: () => boolean, millisecondsMax: number): boolean {
    return this.sim.runUntil(predicate, { timeMsMax: millisecondsMax })
  }

  private deliver(from: ReplicaId, to: ReplicaId, message: RaftMessage): void {
    const target = this.nodes.get(to)
    if (target === undefined || !target.alive) return
    if (this.blocked.has(`${from}>${to}`)) return
    this.stats.delivered++
    target.engine.step(from, message)
    this.drainNode(target)
  }

  private enqueue(from: ReplicaId, to: ReplicaId, message: RaftMessage): void {
    if (this.random.nextFloat() < this.faults.dropRate) {
      this.stats.dropped++
      return
    }
    const copies = this.random.nextFloat() < this.faults.duplicateRate ? 2 : 1
    if (copies === 2) this.stats.duplicated++
    for (let copy = 0; copy < copies; copy++) {
      const delay = this.faults.latencyMs + this.random.nextInt(this.faults.jitterMs + 1)
      this.sequence++
      this.sim.schedule(delay, 'raft.deliver', () => this.deliver(from, to, message))
    }
  }

  private drainNode(node: SimNode): void {
    for (let round = 0; round < 1000 && node.alive; round++) {
      if (node.persisting || !node.engine.hasReady()) return
      this.handleReady(node, node.engine.ready())
    }
    if (node.alive && !node.persisting && node.engine.hasReady())
      throw new InvariantViolation('Ready loop did not quiesce')
  }

  /** Runs every pending Ready of every live node to quiescence. */
  drain(): void {
    for (let round = 0; round < 1000; round++) {
      let any = false
      for (const node of this.nodes.values()) {
        if (!node.alive) continue
        while (!node.persisting && node.engine.hasReady()) {
          any = true
          this.handleReady(node, node.engine.ready())
        }
      }
      if (!any) return
    }
    throw new InvariantViolation('Ready loop did not quiesce')
  }

  private handleReady(node: SimNode, ready: Ready<RaftMessage>): void {
    this.stats.readys++
    const { engine } = node
    const previous = node.writtenHardState
    // The contract: anything a vote or an acknowledgement depends on must be synced.
    if (ready.entries.length > 0 || ready.snapshot !== null)
      this.expect(ready.mustSync, 'entries without mustSync')
    if (ready.hardState !== null && previous !== null) {
      if (ready.hardState.term !== previous.term || ready.hardState.vote !== previous.vote) {
        this.expect(ready.mustSync, 'term/vote change without mustSync')
      }
      this.expect(ready.hardState.term >= previous.term, 'persisted term went backwards')
    }
    const early = ready.messagesBeforePersist ?? []
    for (const outbound of early) {
      const { type } = outbound.message
      // Only a leader's traffic may precede its write; a vote or an acknowledgement never may.
      this.expect(
        type === 'append' || type === 'heartbeat' || type === 'snapshot',
        `${type} sent before persisting`,
      )
      this.expect(ready.snapshot === null, 'messages before persisting a snapshot')
      if (ready.hardState !== null) {
        const before = previous ?? { term: 0, vote: null }
        this.expect(
          ready.hardState.term === before.term && ready.hardState.vote === before.vote,
          'messages before persisting a new term or vote',
        )
      }
    }
    // Checked against the log the entries were produced from (it may change while they are written).
    for (const entry of ready.entries) this.checkLogMatching(node, entry)
    // Election safety and leader completeness, on the log the status describes.
    if (
      ready.status !== null &&
      ready.status.role === 'leader' &&
      this.wasLeader.get(node.id) !== ready.status.term
    ) {
      this.wasLeader.set(node.id, ready.status.term)
      this.stats.elections++
      const existing = this.leaderByTerm.get(ready.status.term)
      this.expect(
        existing === undefined || existing === node.id,
        `two leaders in term ${ready.status.term}: ${existing} and ${node.id}`,
      )
      this.leaderByTerm.set(ready.status.term, node.id)
      this.checkLeaderCompleteness(node)
    }
    const termAtReady = engine.inspect().term

    // 0. Early sends: they go out even if the write below is lost to a crash.
    this.sendAll(node, early)

    const writes = ready.entries.length > 0 || ready.snapshot !== null || ready.hardState !== null
    if (this.diskLatencyMs === 0 || !writes) {
      this.completeReady(node, ready, termAtReady)
      return
    }
    node.persisting = true
    const incarnation = node.incarnation
    this.sim.schedule(this.random.nextInt(this.diskLatencyMs + 1), 'raft.fsync', () => {
      // A crash in between lost the write (and the rest of this Ready) with the process.
      if (!node.alive || node.incarnation !== incarnation) return
      node.persisting = false
      this.completeReady(node, ready, termAtReady)
      this.drainNode(node)
    })
  }

  private sendAll(node: SimNode, messages: Ready<RaftMessage>['messages']): void {
    for (const outbound of messages) {
      if (this.blocked.has(`${node.id}>${outbound.to}`)) continue
      this.enqueue(node.id, outbound.to, outbound.message)
    }
  }

  /** Steps 1–5 of the Ready contract, once its write is done. */
  private completeReady(node: SimNode, ready: Ready<RaftMessage>, termAtReady: number): void {
    const { engine } = node
    const durable = node.durable

    // 1. Persist. Entries, snapshots and term/vote are always synced (checked above), so the durable
    //    state equals the written one except a commit-only hard state written without sync.
    if (ready.snapshot !== null) {
      const snapshot = ready.snapshot
      durable.snapshot = snapshot
      durable.entries = durable.entries.filter((entry) => entry.index > snapshot.meta.index)
      const first = durable.entries[0]
      if (first !== undefined && first.index !== snapshot.meta.index + 1) durable.entries = []
      durable.compactedIndex = snapshot.meta.index
      durable.compactedTerm = snapshot.meta.term
    }
    if (ready.entries.length > 0) {
      const first = ready.entries[0]!
      const keep = durable.entries.filter((entry) => entry.index < first.index)
      this.expect(
        first.index === durable.compactedIndex + keep.length + 1,
        `non-contiguous log write at ${first.index}`,
      )
      durable.entries = [...keep, ...ready.entries]
    }
    if (ready.hardState !== null) {
      node.writtenHardState = ready.hardState
      if (ready.mustSync) durable.hardState = ready.hardState
    }
    if (ready.mustSync && node.writtenHardState !== null) durable.hardState = node.writtenHardState

    // 2. Send.
    this.sendAll(node, ready.messages)

    // 3. Apply.
    if (ready.snapshot !== null) {
      const state = decodeState(joinedBytes(ready.snapshot.data))
      this.expect(state.index === ready.snapshot.meta.index, 'snapshot data disagrees with its meta')
      this.checkApplied(node, state.index, ready.snapshot.meta.term, state.hash, termAtReady)
      node.appliedIndex = state.index
      node.stateHash = state.hash
    }
    for (const entry of ready.committed) {
      this.expect(entry.index === node.appliedIndex + 1, `applied ${entry.index} after ${node.appliedIndex}`)
      node.stateHash = hashStep(node.stateHash, entry)
      node.appliedIndex = entry.index
      this.checkApplied(node, entry.index, entry.term, node.stateHash, termAtReady)
    }

    // 4. Reads.
    for (const read of ready.reads) {
      const floor = this.readFloor.get(read.context)
      if (floor !== undefined) {
        this.expect(read.index >= floor, `read ${read.context} at ${read.index} misses commit ${floor}`)
        this.readFloor.delete(read.context)
      }
      node.reads.push(read)
    }
    for (const context of ready.dropped) {
      this.readFloor.delete(context)
      node.dropped.push(context)
    }

    engine.advance(ready)
    this.maybeCompact(node)
    this.stats.checks++
  }

  private maybeCompact(node: SimNode): void {
    if (this.compactEveryEntries === 0) return
    const info = node.engine.inspect()
    if (node.appliedIndex - info.snapshotIndex < this.compactEveryEntries) return
    const meta = node.engine.snapshotMeta(node.appliedIndex)
    const state = encodeState(node.appliedIndex, node.stateHash)
    const pieceBytes = this.options.snapshotPieceBytes ?? 0
    const snapshot: Snapshot = { meta, data: pieceBytes > 0 ? inPieces(state, pieceBytes) : state }
    // The driver saves the snapshot durably, then compacts the log store and the engine.
    node.durable.snapshot = snapshot
    node.durable.entries = node.durable.entries.filter((entry) => entry.index > meta.index)
    node.durable.compactedIndex = meta.index
    node.durable.compactedTerm = meta.term
    node.engine.compact(snapshot)
  }

  private checkLogMatching(node: SimNode, entry: LogEntry): void {
    let dataHash = 0x811c9dc5
    for (const byte of entry.data) dataHash = Math.imul(dataHash ^ byte, 0x01000193) >>> 0
    dataHash = (dataHash ^ entry.kind.length) >>> 0
    const prevTerm = entry.index === 1 ? 0 : node.engine.termAt(entry.index - 1)
    const key = `${entry.index}:${entry.term}`
    const known = this.entryByPosition.get(key)
    if (known === undefined) {
      this.entryByPosition.set(key, { dataHash, prevTerm })
      return
    }
    this.expect(known.dataHash === dataHash, `log matching: two different entries at ${key}`)
    if (known.prevTerm !== undefined && prevTerm !== undefined) {
      this.expect(known.prevTerm === prevTerm, `log matching: entries at ${key} follow different terms`)
    }
  }

  private checkApplied(node: SimNode, index: number, term: number, hash: number, termAtReady: number): void {
    const known = this.stateAt.get(index)
    if (known === undefined) {
      // The applier's term when it learned of the commit bounds from above the term in which the
      // entry committed.
      this.stateAt.set(index, { term, hash, knownInTerm: termAtReady })
      if (index > this.committedIndexMax) this.committedIndexMax = index
      return
    }
    this.expect(
      known.term === term,
      `state machine safety: ${node.id} applied term ${term} at ${index}, others ${known.term}`,
    )
    this.expect(known.hash === hash, `state machine safety: ${node.id} diverged at index ${index}`)
  }

  private checkLeaderCompleteness(node: SimNode): void {
    const { engine } = node
    const info = engine.inspect()
    for (let index = info.snapshotIndex + 1; index <= this.committedIndexMax; index++) {
      const committed = this.stateAt.get(index)
      if (committed === undefined || committed.knownInTerm >= info.term) continue
      this.expect(
        engine.termAt(index) === committed.term,
        `leader completeness: leader ${node.id} (term ${info.term}) lacks committed entry ${index}`,
      )
    }
  }

  describe(): string {
    const lines: string[] = []
    for (const node of this.nodes.values()) {
      const info = node.engine.inspect()
      const progress = [...info.progress].map(([id, p]) => `${id}:${p.state}/${p.match}/${p.next}`).join(' ')
      lines.push(
        `${node.id} ${node.alive ? 'up' : 'down'} ${info.role} t${info.term} leader=${info.leader} last=${info.lastIndex}/${info.lastTerm} commit=${info.commitIndex} applied=${node.appliedIndex} snap=${info.snapshotIndex} voters=${info.membership.voters.join(',')} learners=${info.membership.learners.join(',')} ${progress}`,
      )
    }
    return lines.join('\n')
  }

  expect(condition: boolean, why: string): asserts condition {
    if (!condition) {
      throw new InvariantViolation(`seed ${this.options.seed} at ${this.now}ms: ${why}\n${this.describe()}`)
    }
  }
}
