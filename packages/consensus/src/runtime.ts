import {
  Codec,
  ConsensusError,
  DecodeError,
  Emitter,
  LimitExceededError,
  NodeId,
  SeededRandom,
  SocketCloudError,
  StorageError,
  assert,
  every,
  noopLogger,
  noopMetrics,
  toError,
  type Clock,
  type ConsensusEngine,
  type HardState,
  type EngineStatus,
  type LogEntry,
  type LogStore,
  type Logger,
  type Metrics,
  type Random,
  type Ready,
  type ReplicaId,
  type Snapshot,
  type SnapshotStore,
  type StateMachine,
  type TimerHandle,
  type Transport,
  type TransportEvents,
} from '@socketcloud/core'
import { encodeEntryEnvelope, type EntryOperation } from './core/entry-envelope'
import { ReplicatedState, type ApplyOutcome } from './core/replicated-state'
import type { EngineFactory } from './engine-factory'
import { createRuntimeMetrics, type RuntimeMetrics } from './runtime-metrics'
import { SnapshotStepper } from './snapshot-stepper'
import { resolveRuntimeInit, type ConsensusRuntimeInit, type ResolvedRuntimeInit } from './options'
import {
  RUNTIME_MESSAGE_PREFIX,
  decodeRuntimeMessage,
  encodeRuntimeMessage,
  runtimeMessageType,
  type ForwardFailure,
  type RuntimeMessage,
  type SubmitRequest,
} from './wire'

export interface ConsensusRuntimeComponents<
  Message,
  Engine extends ConsensusEngine<Message> = ConsensusEngine<Message>,
> {
  readonly transport: Transport
  readonly logStore: LogStore
  readonly snapshotStore: SnapshotStore
  readonly stateMachine: StateMachine
  readonly clock: Clock
  readonly engineFactory: EngineFactory<Message, Engine>
  readonly logger?: Logger
  readonly metrics?: Metrics
  /** Draws this incarnation's request-id base; seed it in simulations. @default seeded from the wall clock */
  readonly random?: Random
  /** Envelope codec for the wire. @default new Codec() */
  readonly codec?: Codec
}

export type ReadConsistency = 'linearizable' | 'stale'

/** A client session the caller manages itself (e.g. an API client that retries through any node). */
export interface ExplicitSession {
  readonly id: string
  readonly sequence: number
  /** Every sequence number below this one has been answered to the client. @default sequence */
  readonly acknowledgedBelow?: number
}

export interface RequestOptions {
  /** @default the runtime's requestTimeoutMs */
  readonly timeoutMs?: number
}

export interface SubmitOptions extends RequestOptions {
  /** Submit under the caller's own session instead of the runtime's. */
  readonly session?: ExplicitSession
}

export interface ConsensusRuntimeEvents {
  /** An inbound message was refused at the boundary; nothing changed. */
  refused: { readonly peer: ReplicaId; readonly error: SocketCloudError }
  /** The engine reported a new status (role, leader, term or membership). */
  status: EngineStatus
  /** A committed entry could not be decoded; it was applied as a no-op on every replica. */
  'malformed-entry': { readonly index: number; readonly error: DecodeError }
  /** The state machine was restored from a snapshot: the newest on disk at start, or one sent by the leader. */
  restored: { readonly index: number; readonly source: 'disk' | 'leader' }
  /** A snapshot was saved and the log compacted behind it. */
  snapshot: {
    readonly index: number
    readonly term: number
    readonly bytes: number
    /** Slices the encode took (1 for a machine without `captureSnapshot`); see `maybeSnapshot`. */
    readonly encodeSteps: number
  }
  /** A storage or engine failure stopped the runtime; every request failed with STOPPED. */
  failed: { readonly error: Error }
}

type RequestKind = 'command' | 'register' | 'read-index' | 'read-log'

interface PendingRequest {
  readonly id: number
  kind: RequestKind
  readonly payload: Uint8Array
  readonly sessionId: string
  readonly sequence: number
  readonly acknowledgedBelow: number
  readonly startedMs: number
  readonly deadlineMs: number
  readonly resolve: (value: RequestResult) => void
  readonly reject: (error: Error) => void
  /** waiting: not placed; proposed: in the local engine; forwarded: sent to the leader; reading: index known. */
  route: 'waiting' | 'proposed' | 'forwarded' | 'reading'
  routedTerm: number
  target: ReplicaId | null
  sentMs: number
  readIndex: number
  leaderSeen: boolean
}

interface RequestResult {
  readonly bytes: Uint8Array
  readonly sessionId: string
}

interface ForwardedRequest {
  readonly from: ReplicaId
  readonly requestId: number
  readonly kind: 'submit' | 'read-index'
}

interface OwnSession {
  readonly id: string
  nextSequence: number
  readonly outstanding: Set<number>
  /** Local monotonic time of the last submission under this session. */
  lastUsedMs: number
}

const REQUEST_ID_SPAN = 2 ** 21

/**
 * Drives one consensus engine: the tick timer, the Ready loop (early sends, persist, send, apply, serve reads,
 * advance), the inbound boundary, forwarding to the leader, client sessions and snapshots. It is
 * protocol-agnostic — the engine comes from an `EngineFactory` — and I/O-agnostic: the transport,
 * stores and clock are the core interfaces, so the same runtime runs on the simulator and on TCP with
 * files.
 *
 * Concurrency: everything runs on one event loop. Engine calls are synchronous; the only awaits are
 * storage writes inside the Ready loop, and exactly one loop runs at a time, so two Readys never
 * overlap and `advance` always follows the full handling of its Ready.
 */
export class ConsensusRuntime<Message, Engine extends ConsensusEngine<Message> = ConsensusEngine<Message>> {
  readonly id: ReplicaId
  readonly events = new Emitter<ConsensusRuntimeEvents>()
  private readonly init: ResolvedRuntimeInit
  private readonly transport: Transport
  private readonly logStore: LogStore
  private readonly snapshotStore: SnapshotStore
  private readonly clock: Clock
  private readonly factory: EngineFactory<Message, Engine>
  private readonly logger: Logger
  private readonly codec: Codec
  private readonly stateCodec: Codec
  private readonly state: ReplicatedState
  private readonly random: Random
  private engineValue: Engine | null = null
  private phase: 'new' | 'starting' | 'running' | 'stopped' = 'new'
  private tickTimer: TimerHandle | null = null
  private unsubscribe: (() => void) | null = null
  private loopRunning: Promise<void> | null = null
  private loopRequested = false
  private requestIdNext: number
  private requestIdEnd: number
  private readonly pending = new Map<number, PendingRequest>()
  private readonly forwarded = new Map<string, ForwardedRequest>()
  private forwardedContextNext = 1
  private ownSession: OwnSession | null = null
  private ownSessionOpening: Promise<OwnSession> | null = null
  private appliedTerm = 0
  private snapshotIndex = 0
  private lastStatus: EngineStatus | null = null
  private readonly peerIds = new Map<ReplicaId, NodeId>()
  /**
   * True between `engine.ready()` and `engine.advance()` when the engine asked for its inputs to wait
   * (`deferInputsDuringReady`); they then queue in `inbox`/`deferred` and are fed after `advance`.
   */
  private insideReady = false
  private readonly inbox: Array<{
    readonly peer: ReplicaId
    readonly type: string
    readonly message: Message | RuntimeMessage
    readonly engineMessage: boolean
  }> = []
  private readonly deferred: Array<() => void> = []
  private ticksOwed = 0
  private rerouteAfterReady = false
  /** Every log entry up to this index is durable here (written with sync by a completed Ready, or in a snapshot). */
  private persistedIndex = 0
  /** A snapshot is being saved and the logs compacted behind it (in the background). */
  private snapshotting = false
  /** The snapshot being encoded in steps, if any (see `maybeSnapshot`). */
  private snapshotStepper: SnapshotStepper | null = null
  /** Releases a background snapshot waiting in `deferred` when the runtime halts. */
  private releaseSnapshotWaiter: (() => void) | null = null
  /** Writes the loop did not wait for (no sync, or finishing in the background); awaited on stop. */
  private unawaitedWrites: Promise<void> = Promise.resolve()
  /** Term and vote of the last hard state handed to the log store. */
  private writtenTerm = 0
  private writtenVote: ReplicaId | null = null
  /** A hard state that moved only the commit index, not yet written (it rides with the next write). */
  private lazyHardState: HardState | null = null
  /** Whether a Ready's write is finishing in the background right now (at most one at a time). */
  private backgroundWriteInFlight = false
  /** Set when the engine can count a Ready's entries durable later (`advanceBeforeDurable`/`markDurable`). */
  private backgroundDurability: BackgroundDurability | null = null
  private readonly metrics: RuntimeMetrics

  constructor(components: ConsensusRuntimeComponents<Message, Engine>, init: ConsensusRuntimeInit = {}) {
    this.init = resolveRuntimeInit(init)
    this.transport = components.transport
    this.id = components.transport.localId.hex
    this.logStore = components.logStore
    this.snapshotStore = components.snapshotStore
    this.clock = components.clock
    this.factory = components.engineFactory
    this.logger = (components.logger ?? noopLogger).child({
      component: 'consensus',
      replica: this.id.slice(0, 12),
    })
    this.codec = components.codec ?? new Codec()
    this.stateCodec = new Codec({ envelopeBytesMax: this.init.snapshotBytesMax })
    this.random = components.random ?? new SeededRandom(Math.floor(components.clock.wallNow()) ^ 0x5eed)
    this.state = new ReplicatedState(components.stateMachine, {
      codec: this.stateCodec,
      proposalBytesMax: this.init.proposalBytesMax,
      snapshotBytesMax: this.init.snapshotBytesMax,
      sessionsMax: this.init.sessionsMax,
      sessionResponsesMax: this.init.sessionResponsesMax,
      sessionExpiryMs: this.init.sessionExpiryMs,
    })
    this.requestIdNext = 0
    this.requestIdEnd = 0
    this.metrics = createRuntimeMetrics(components.metrics ?? noopMetrics)
  }

  /** The engine, for protocol-specific operations; call them through `control` so the loop runs after. */
  get engine(): Engine {
    assert(this.engineValue !== null, 'the runtime has not started')
    return this.engineValue
  }

  get appliedIndex(): number {
    return this.state.appliedIndex
  }

  get running(): boolean {
    return this.phase === 'running'
  }

  /** Loads the snapshot and the log, restores the state machine, builds the engine and starts ticking. */
  async start(): Promise<void> {
    assert(this.phase === 'new', 'a runtime starts once')
    this.phase = 'starting'
    const snapshot = await this.snapshotStore.load()
    let logState = await this.logStore.load()
    const snapshotIndex = snapshot?.meta.index ?? 0
    if (logState.compactedIndex > snapshotIndex) {
      // The entries up to the compaction point exist only in a snapshot the store could not load
      // (damaged or deleted): the state cannot be rebuilt from this disk, and starting anyway would
      // apply later entries onto an older state. Wiping the disk and restarting under the same id
      // is not a remedy either: the replica would have forgotten its votes.
      throw new StorageError(
        'CORRUPT',
        'the log is compacted beyond the newest snapshot that loads, so the state cannot be rebuilt from this disk; remove this replica from the group and add it back under a new id with an empty data directory',
        { compactedIndex: logState.compactedIndex, snapshotIndex },
      )
    }
    if (snapshot) {
      // Restored before the log is touched below: a snapshot that cannot be restored (too large for
      // this configuration, a newer format, a machine that refuses it) must not cost the log entries
      // it would replace.
      this.state.restore(snapshot.meta.index, snapshot.data)
      this.appliedTerm = snapshot.meta.term
      this.snapshotIndex = snapshot.meta.index
    }
    if (snapshot && snapshot.meta.index > logState.compactedIndex) {
      // The snapshot was saved but the compaction that follows it did not happen: a crash in between,
      // possibly (on a leader, which applies what the followers made durable before its own write
      // finishes) with the log ending short of the snapshot. The log must start after the snapshot
      // before anything is appended to it, so the compaction is done now.
      await this.logStore.compact(snapshot.meta.index, snapshot.meta.term)
      logState = await this.logStore.load()
    }
    if (snapshot) this.events.emit('restored', { index: snapshot.meta.index, source: 'disk' })
    this.persistedIndex = Math.max(
      snapshot?.meta.index ?? 0,
      logState.compactedIndex,
      logState.entries[logState.entries.length - 1]?.index ?? 0,
    )
    this.engineValue = this.factory.create({
      id: this.id,
      hardState: logState.hardState,
      entries: logState.entries,
      compactedIndex: logState.compactedIndex,
      compactedTerm: logState.compactedTerm,
      snapshot,
      appliedIndex: this.state.appliedIndex,
    })
    assert(this.engineValue.id === this.id, 'the engine runs under the transport identity')
    this.writtenTerm = logState.hardState?.term ?? 0
    this.writtenVote = logState.hardState?.vote ?? null
    if (this.init.backgroundLogWrites && hasBackgroundDurability(this.engineValue)) {
      this.backgroundDurability = this.engineValue
    }
    this.lastStatus = this.engineValue.status()
    this.unsubscribe = this.transport.events.on('message', (event) => this.receive(event))
    this.tickTimer = every(this.clock, this.init.tickIntervalMs, () => this.onTick())
    this.phase = 'running'
    this.logger.info(
      { appliedIndex: this.state.appliedIndex, entries: logState.entries.length },
      'consensus runtime started',
    )
    this.requestLoop()
  }

  /**
   * Stops ticking and receiving, fails every open request with STOPPED, writes a commit index still
   * waiting for the next write, and waits for the loop and every outstanding write to end (on the
   * simulator, drive it with `sim.await`: writes settle in virtual time).
   */
  async stop(): Promise<void> {
    if (this.phase === 'stopped') return
    this.halt(new ConsensusError('STOPPED', 'the consensus runtime stopped', { replica: this.id }))
    // A loop that failed has already stopped the runtime through `fail`; only its end is awaited here.
    await this.loopRunning?.catch(() => undefined)
    if (this.lazyHardState) this.writeLazyHardState()
    await this.unawaitedWrites
  }

  /**
   * Orders `command` and resolves with the state machine's result once it is applied, on whichever node
   * is the leader (forwarded there when this one is not). Each call settles exactly once: with the
   * result, or with a ConsensusError (TIMEOUT, STOPPED, PROPOSAL_TOO_LARGE, SESSION_EXPIRED) or a
   * LimitExceededError. A TIMEOUT means the outcome is unknown: the command may still apply, once.
   */
  async submit(command: Uint8Array, options: SubmitOptions = {}): Promise<Uint8Array> {
    this.checkAccepting(command)
    const deadlineMs = this.clock.now() + (options.timeoutMs ?? this.init.requestTimeoutMs)
    if (options.session) {
      const { id, sequence } = options.session
      const acknowledgedBelow = options.session.acknowledgedBelow ?? sequence
      return (await this.enqueue('command', command, id, sequence, acknowledgedBelow, deadlineMs)).bytes
    }
    const session = await this.openOwnSession(deadlineMs)
    const sequence = session.nextSequence++
    session.outstanding.add(sequence)
    // Sequences enter `outstanding` in increasing order and a Set iterates in insertion order, so its
    // first element is the lowest (O(1), where spreading the set cost a copy per submit).
    const acknowledgedBelow = session.outstanding.values().next().value!
    try {
      return (await this.enqueue('command', command, session.id, sequence, acknowledgedBelow, deadlineMs))
        .bytes
    } catch (error) {
      if (
        error instanceof ConsensusError &&
        error.code === 'SESSION_EXPIRED' &&
        this.ownSession === session
      ) {
        this.ownSession = null
      }
      throw error
    } finally {
      session.outstanding.delete(sequence)
    }
  }

  /**
   * Runs `query` against the state machine. `linearizable` reflects every write acknowledged before the
   * call (ReadIndex through the leader, or through the log when the engine has no read index);
   * `stale` answers at once from this replica's applied state.
   */
  async read(
    query: Uint8Array,
    consistency: ReadConsistency = 'linearizable',
    options: RequestOptions = {},
  ): Promise<Uint8Array> {
    this.checkAccepting(query)
    if (consistency === 'stale') return this.state.machine.query(query)
    const deadlineMs = this.clock.now() + (options.timeoutMs ?? this.init.requestTimeoutMs)
    return (await this.enqueue('read-index', query, '', 0, 0, deadlineMs)).bytes
  }

  /** Registers a new client session through the log and resolves with its id. */
  async openSession(options: RequestOptions = {}): Promise<string> {
    this.checkAccepting(new Uint8Array(0))
    const deadlineMs = this.clock.now() + (options.timeoutMs ?? this.init.requestTimeoutMs)
    return (await this.enqueue('register', new Uint8Array(0), '', 0, 0, deadlineMs)).sessionId
  }

  /** Runs a protocol-specific engine operation (leader transfer, membership change) inside the runtime. */
  control<T>(operation: (engine: Engine) => T): Promise<T> {
    if (this.phase !== 'running') {
      return Promise.reject(new ConsensusError('STOPPED', 'the consensus runtime is not running'))
    }
    return new Promise<T>((resolve, reject) => {
      const run = (): void => {
        try {
          resolve(operation(this.engine))
        } catch (thrown) {
          reject(toError(thrown))
        }
        this.requestLoop()
      }
      if (this.insideReady) this.deferred.push(run)
      else run()
    })
  }

  status(): EngineStatus & { readonly appliedIndex: number } {
    return { ...this.engine.status(), appliedIndex: this.state.appliedIndex }
  }

  // ---------------------------------------------------------------- requests

  private checkAccepting(payload: Uint8Array): void {
    if (this.phase !== 'running') {
      throw new ConsensusError('STOPPED', 'the consensus runtime is not running', { phase: this.phase })
    }
    if (!(payload instanceof Uint8Array)) {
      throw new DecodeError('INVALID_FIELD', 'commands and queries are byte arrays')
    }
    if (payload.length > this.init.proposalBytesMax) {
      throw new ConsensusError('PROPOSAL_TOO_LARGE', `${payload.length} bytes exceed proposalBytesMax`, {
        bytes: payload.length,
        max: this.init.proposalBytesMax,
      })
    }
  }

  private async openOwnSession(deadlineMs: number): Promise<OwnSession> {
    const current = this.ownSession
    if (current) {
      // Sessions expire by log time (the leaders' clocks), which this replica can only estimate: an
      // idle session is replaced well before it could have expired, so a command never meets
      // SESSION_EXPIRED just because the application paused.
      const idleMs = this.clock.now() - current.lastUsedMs
      if (current.outstanding.size > 0 || idleMs < this.init.sessionExpiryMs / 2) {
        current.lastUsedMs = this.clock.now()
        return current
      }
      this.ownSession = null
    }
    if (!this.ownSessionOpening) {
      const opening = this.enqueue('register', new Uint8Array(0), '', 0, 0, deadlineMs).then(
        (result): OwnSession => {
          const session: OwnSession = {
            id: result.sessionId,
            nextSequence: 1,
            outstanding: new Set(),
            lastUsedMs: this.clock.now(),
          }
          this.ownSession = session
          return session
        },
      )
      this.ownSessionOpening = opening
      // The caller receives `opening` and its rejection; this branch only clears the slot, and its
      // catch keeps the derived promise from reporting that same rejection a second time as unhandled.
      opening
        .finally(() => {
          if (this.ownSessionOpening === opening) this.ownSessionOpening = null
        })
        .catch(() => undefined)
    }
    return this.ownSessionOpening
  }

  private nextRequestId(): number {
    if (this.requestIdNext >= this.requestIdEnd) {
      // A fresh random block per incarnation, so entries proposed by an earlier run of this replica
      // never resolve a request of this one.
      const base = (this.random.nextUint32() >>> 1) * REQUEST_ID_SPAN
      this.requestIdNext = base + 1
      this.requestIdEnd = base + REQUEST_ID_SPAN
    }
    return this.requestIdNext++
  }

  private enqueue(
    kind: RequestKind,
    payload: Uint8Array,
    sessionId: string,
    sequence: number,
    acknowledgedBelow: number,
    deadlineMs: number,
  ): Promise<RequestResult> {
    if (this.phase !== 'running') {
      return Promise.reject(new ConsensusError('STOPPED', 'the consensus runtime is not running'))
    }
    if (this.pending.size >= this.init.pendingRequestsMax) {
      return Promise.reject(
        new LimitExceededError('pendingRequestsMax', this.pending.size + 1, this.init.pendingRequestsMax),
      )
    }
    return new Promise<RequestResult>((resolve, reject) => {
      const request: PendingRequest = {
        id: this.nextRequestId(),
        kind,
        payload,
        sessionId,
        sequence,
        acknowledgedBelow,
        startedMs: this.clock.now(),
        deadlineMs,
        resolve,
        reject,
        route: 'waiting',
        routedTerm: 0,
        target: null,
        sentMs: 0,
        readIndex: 0,
        leaderSeen: false,
      }
      this.pending.set(request.id, request)
      this.route(request)
      this.requestLoop()
    })
  }

  /** Settles a request exactly once: removing it from `pending` is what makes a second settle a no-op. */
  private settle(request: PendingRequest, outcome: { result: RequestResult } | { error: Error }): void {
    if (this.pending.get(request.id) !== request) return
    this.pending.delete(request.id)
    const durationMs = this.clock.now() - request.startedMs
    if ('result' in outcome) {
      this.metrics.requestLatency.observe({ kind: request.kind, outcome: 'ok' }, durationMs)
      request.resolve(outcome.result)
    } else {
      const code = outcome.error instanceof SocketCloudError ? outcome.error.code : 'ERROR'
      this.metrics.requestLatency.observe({ kind: request.kind, outcome: code }, durationMs)
      request.reject(outcome.error)
    }
  }

  /** Places a request: into the local engine when this node leads, to the leader otherwise, or waits. */
  private route(request: PendingRequest): void {
    const status = this.engine.status()
    const leader = status.leader
    request.target = leader
    request.routedTerm = status.term
    request.sentMs = this.clock.now()
    if (leader === null) {
      request.route = 'waiting'
      return
    }
    request.leaderSeen = true
    if (leader !== this.id) {
      this.forwardToLeader(request, leader)
      return
    }
    if (this.insideReady) {
      request.route = 'waiting'
      this.rerouteAfterReady = true
      return
    }
    if (request.kind === 'read-index') {
      const answer = this.engine.readIndex(`p${request.id}`)
      if (answer.ok) {
        request.route = 'proposed'
        return
      }
      if (answer.reason !== 'unsupported') {
        request.route = 'waiting'
        return
      }
      request.kind = 'read-log'
    }
    const operation: EntryOperation =
      request.kind === 'command' ? 'command' : request.kind === 'register' ? 'register' : 'read'
    const outcome = this.proposeEntry(operation, this.id, request.id, request)
    if (outcome === 'proposed') request.route = 'proposed'
    else if (outcome === 'too-large') {
      this.settle(request, {
        error: new ConsensusError('PROPOSAL_TOO_LARGE', 'the engine refused the proposal as too large', {
          bytes: request.payload.length,
        }),
      })
    } else request.route = 'waiting'
  }

  private proposeEntry(
    operation: EntryOperation,
    proposer: ReplicaId,
    requestId: number,
    fields: Pick<PendingRequest, 'payload' | 'sessionId' | 'sequence' | 'acknowledgedBelow'>,
    context = `p${requestId}`,
  ): 'proposed' | 'too-large' | 'refused' {
    const data = encodeEntryEnvelope(this.stateCodec, {
      operation,
      proposer,
      requestId,
      timestampMs: Math.max(0, Math.floor(this.clock.wallNow())),
      sessionId: operation === 'command' ? fields.sessionId : '',
      sequence: fields.sequence,
      acknowledgedBelow: fields.acknowledgedBelow,
      payload: fields.payload,
    })
    const answer = this.engine.propose(data, context)
    if (answer.ok) {
      this.metrics.proposals.inc({ operation })
      return 'proposed'
    }
    return answer.reason === 'too-large' ? 'too-large' : 'refused'
  }

  private forwardToLeader(request: PendingRequest, leader: ReplicaId): void {
    const message: RuntimeMessage =
      request.kind === 'read-index'
        ? { kind: 'read-index', requestId: request.id }
        : {
            kind: 'submit',
            requestId: request.id,
            operation:
              request.kind === 'command' ? 'command' : request.kind === 'register' ? 'register' : 'read',
            sessionId: request.sessionId,
            sequence: request.sequence,
            acknowledgedBelow: request.acknowledgedBelow,
            payload: request.payload,
          }
    request.route = this.sendRuntimeMessage(leader, message) ? 'forwarded' : 'waiting'
    this.metrics.forwards.inc()
  }

  /** Deadlines, retries of unanswered forwards and re-placement after a leader change. */
  private reviewRequests(leaderChanged: boolean): void {
    const nowMs = this.clock.now()
    const status = this.engine.status()
    for (const request of [...this.pending.values()]) {
      if (nowMs >= request.deadlineMs) {
        const error = request.leaderSeen
          ? new ConsensusError('TIMEOUT', `no outcome within the request timeout`, {
              kind: request.kind,
              route: request.route,
            })
          : new ConsensusError('NO_LEADER', 'no leader was known within the request timeout', {
              kind: request.kind,
            })
        this.settle(request, { error })
        continue
      }
      switch (request.route) {
        case 'waiting':
          this.route(request)
          break
        case 'forwarded':
          if (leaderChanged || nowMs - request.sentMs >= this.init.forwardRetryMs) this.route(request)
          break
        case 'proposed':
          // Still ours in the same term: the entry is in our log and commits or is truncated with a
          // term change, so only a new term or leader warrants proposing again (sessions dedupe it).
          if (status.leader !== this.id || status.term !== request.routedTerm) this.route(request)
          break
        case 'reading':
          break
      }
    }
  }

  // ---------------------------------------------------------------- ticking and the Ready loop

  private onTick(): void {
    if (this.phase !== 'running') return
    if (this.insideReady) {
      this.ticksOwed++
      return
    }
    // Between Readys no write is being prepared, so a commit index left waiting goes out now: a
    // restart then loses at most one tick of it.
    if (this.lazyHardState && !this.loopRunning) this.writeLazyHardState()
    try {
      this.engine.tick()
      this.reviewRequests(false)
    } catch (thrown) {
      this.fail(toError(thrown))
      return
    }
    this.requestLoop()
  }

  private requestLoop(): void {
    if (this.phase !== 'running') return
    this.loopRequested = true
    if (this.loopRunning) return
    // Every failure of the loop ends in `fail` (the runtime stops, open requests get STOPPED), so the
    // promise kept in `loopRunning` never rejects.
    const running: Promise<void> = this.runLoop()
      .catch((thrown: unknown) => this.fail(toError(thrown)))
      .then(() => {
        if (this.loopRunning === running) this.loopRunning = null
        if (this.loopRequested && this.phase === 'running') this.requestLoop()
      })
    this.loopRunning = running
  }

  private async runLoop(): Promise<void> {
    // Yield once so a burst of proposals and messages in the same turn lands in one Ready.
    await Promise.resolve()
    while (this.phase === 'running') {
      this.loopRequested = false
      if (!this.engine.hasReady()) return
      const ready = this.engine.ready()
      const background = this.mayWriteInBackground(ready)
      this.insideReady = this.init.deferInputsDuringReady
      try {
        await this.handleReady(ready, background)
      } finally {
        this.insideReady = false
      }
      if (this.phase !== 'running') return
      if (background) this.backgroundDurability!.advanceBeforeDurable(ready)
      else this.engine.advance(ready)
      this.drainDeferred()
      this.maybeSnapshot()
    }
  }

  /** Feeds the engine what arrived while a Ready was being handled, in arrival order. */
  private drainDeferred(): void {
    for (; this.ticksOwed > 0 && this.phase === 'running'; this.ticksOwed--) this.engine.tick()
    const inbox = this.inbox.splice(0)
    for (const item of inbox) {
      if (this.phase !== 'running') return
      this.deliver(item.peer, item.type, item.message, item.engineMessage)
    }
    for (const run of this.deferred.splice(0)) run()
    if (this.rerouteAfterReady || inbox.length > 0) {
      this.rerouteAfterReady = false
      this.reviewRequests(false)
    }
  }

  /** Steps 0–4 of the Ready contract; the caller advances. */
  private async handleReady(ready: Ready<Message>, background: boolean): Promise<void> {
    // Step 0: traffic that promises nothing about our storage (a Raft leader's appends) goes out
    // now, so followers write in parallel with our own fsync instead of after it.
    const early = ready.messagesBeforePersist ?? []
    for (const outbound of early) this.sendEngineMessage(outbound.to, outbound.message)
    // Transports flush queued frames in a microtask; yielding once lets them reach the sockets before
    // our own write and fsync are issued, so the followers' fsyncs start that much sooner.
    if (early.length > 0) await Promise.resolve()
    if (this.phase !== 'running') return
    if (ready.snapshot) {
      // Validate before persisting: a snapshot that cannot be restored must not become durable.
      new ReplicatedState(nullMachine, this.stateOptions()).restore(
        ready.snapshot.meta.index,
        ready.snapshot.data,
      )
      await this.snapshotStore.save(ready.snapshot)
      await this.logStore.compact(ready.snapshot.meta.index, ready.snapshot.meta.term)
    }
    const hasWrite = ready.hardState !== null || ready.entries.length > 0
    // A write that promises nothing (no sync, no entries: a new commit index) goes after the applies
    // below; any other starts first, so its fsync overlaps them.
    const writeAfterApply = hasWrite && !ready.mustSync && ready.entries.length === 0 && !ready.snapshot
    const write = hasWrite && !writeAfterApply ? this.writeReady(ready) : null
    // The write's outcome is taken below; this only keeps a failure from surfacing as unhandled
    // should applying throw first.
    write?.catch(() => undefined)
    // Step 3, early: committed entries this replica already holds durably promise nothing new, so
    // they apply now rather than after this Ready's write. On a leader this is the common case — the
    // entry was fsynced by an earlier Ready and a follower's acknowledgement committed it — so the
    // client's answer no longer waits for a write; on a follower the apply overlaps the fsync of the
    // entries that came with the commit index.
    if (!ready.snapshot) {
      const firstWritten = ready.entries[0]?.index ?? Number.POSITIVE_INFINITY
      // In the background case every committed entry applies now: committed means durable on a
      // quorum, which never loses it; our own copy is only needed to count toward the next quorum.
      const durableThrough = background
        ? Number.POSITIVE_INFINITY
        : Math.min(this.persistedIndex, firstWritten - 1)
      for (const entry of ready.committed) {
        if (entry.index > durableThrough) break
        if (entry.index > this.state.appliedIndex) this.applyEntry(entry)
      }
    }
    if (writeAfterApply) {
      // Only the commit index moved (term and vote are as written, or this Ready would need a
      // sync). Raft never needs a durable commit index — a replica that restarts behind it learns it
      // again from the leader — so it rides along with the next write instead of costing a write of
      // its own on every commit; a tick or stop writes it if nothing else comes.
      this.lazyHardState = ready.hardState
    }
    if (write && background) {
      // Nothing in this Ready waits for the write: our own copy of its entries counts toward a
      // commit when it is durable, which the engine learns then (thesis §10.2.1, taken one step on).
      const last = ready.entries[ready.entries.length - 1]!
      this.backgroundWriteInFlight = true
      this.keepUnawaited(
        write.then(
          () => {
            this.backgroundWriteInFlight = false
            this.persistedIndex = Math.max(this.persistedIndex, last.index)
            this.whenOutsideReady(() => this.backgroundDurability!.markDurable(last.index, last.term))
          },
          (thrown: unknown) => {
            this.backgroundWriteInFlight = false
            throw thrown
          },
        ),
      )
    } else if (write) {
      await write
      const lastWritten = ready.entries[ready.entries.length - 1]
      if (ready.snapshot) this.persistedIndex = ready.snapshot.meta.index
      if (lastWritten !== undefined) {
        this.persistedIndex = ready.mustSync
          ? lastWritten.index
          : Math.min(this.persistedIndex, ready.entries[0]!.index - 1)
      }
    } else if (ready.snapshot) this.persistedIndex = ready.snapshot.meta.index
    if (this.phase !== 'running') return
    for (const outbound of ready.messages) this.sendEngineMessage(outbound.to, outbound.message)
    if (ready.snapshot && ready.snapshot.meta.index > this.state.appliedIndex) {
      this.abandonSnapshotEncoding()
      this.state.restore(ready.snapshot.meta.index, ready.snapshot.data)
      this.appliedTerm = ready.snapshot.meta.term
      this.snapshotIndex = ready.snapshot.meta.index
      this.logger.info({ index: ready.snapshot.meta.index }, 'restored state machine from a snapshot')
      this.events.emit('restored', { index: ready.snapshot.meta.index, source: 'leader' })
    }
    for (const entry of ready.committed) {
      if (entry.index <= this.state.appliedIndex) continue
      this.applyEntry(entry)
    }
    for (const read of ready.reads) this.readIndexReady(read.context, read.index)
    this.serveReads()
    for (const context of ready.dropped) this.proposalDropped(context)
    if (ready.status) this.statusChanged(ready.status)
  }

  /** Hands this Ready's hard state and entries to the log store (durably when `mustSync`). */
  private writeReady(ready: Ready<Message>): Promise<void> {
    const hardState = ready.hardState ?? this.lazyHardState
    this.lazyHardState = null
    if (hardState) {
      this.writtenTerm = hardState.term
      this.writtenVote = hardState.vote
    }
    return this.logStore.write(
      {
        ...(hardState ? { hardState } : {}),
        ...(ready.entries.length > 0 ? { entries: ready.entries } : {}),
      },
      { sync: ready.mustSync },
    )
  }

  /**
   * Whether this Ready's write may finish after `advance`: nothing in it promises the write (no
   * messages, no snapshot, term and vote as already written) and it has entries for the engine to
   * learn about later. In practice, a leader appending new proposals. One at a time: while one is in
   * flight the next Ready waits for its own write as usual, so proposals arriving meanwhile gather
   * into one batch (one append per follower, one fsync) instead of a stream of small ones.
   */
  private mayWriteInBackground(ready: Ready<Message>): boolean {
    return (
      this.backgroundDurability !== null &&
      !this.backgroundWriteInFlight &&
      ready.entries.length > 0 &&
      ready.snapshot === null &&
      ready.messages.length === 0 &&
      (ready.hardState === null ||
        (ready.hardState.term === this.writtenTerm && ready.hardState.vote === this.writtenVote))
    )
  }

  private writeLazyHardState(): void {
    const hardState = this.lazyHardState!
    this.lazyHardState = null
    this.keepUnawaited(this.logStore.write({ hardState }, { sync: false }))
  }

  /** Tracks a write the loop goes on without; its failure stops the runtime. */
  private keepUnawaited(write: Promise<void>): void {
    const tracked = write.catch((thrown: unknown) => this.fail(toError(thrown)))
    this.unawaitedWrites = Promise.all([this.unawaitedWrites, tracked]).then(() => undefined)
  }

  /** Runs an engine input now, or after the current Ready when inputs wait (`deferInputsDuringReady`). */
  private whenOutsideReady(input: () => void): void {
    if (this.phase !== 'running') return
    const run = (): void => {
      if (this.phase !== 'running') return
      try {
        input()
      } catch (thrown) {
        this.fail(toError(thrown))
        return
      }
      this.requestLoop()
    }
    if (this.insideReady) this.deferred.push(run)
    else run()
  }

  private stateOptions(): ConstructorParameters<typeof ReplicatedState>[1] {
    return {
      codec: this.stateCodec,
      proposalBytesMax: this.init.proposalBytesMax,
      snapshotBytesMax: this.init.snapshotBytesMax,
      sessionsMax: this.init.sessionsMax,
      sessionResponsesMax: this.init.sessionResponsesMax,
      sessionExpiryMs: this.init.sessionExpiryMs,
    }
  }

  private applyEntry(entry: LogEntry): void {
    const outcome = this.state.apply(entry)
    this.appliedTerm = entry.term
    this.metrics.applied.inc()
    if (outcome.kind === 'internal') return
    if (outcome.kind === 'malformed') {
      this.metrics.malformedEntries.inc()
      this.logger.warn(
        { index: entry.index, error: outcome.error.message },
        'malformed committed entry ignored',
      )
      this.events.emit('malformed-entry', { index: entry.index, error: outcome.error })
      return
    }
    const { envelope } = outcome
    const local = envelope.proposer === this.id ? this.pending.get(envelope.requestId) : undefined
    const matchesLocal = local !== undefined && this.matches(local, outcome)
    const remoteKey = `${envelope.proposer}:${envelope.requestId}`
    const remote = this.forwarded.get(remoteKey)
    if (!matchesLocal && !remote) return
    const answer = this.outcomeAnswer(outcome)
    if (matchesLocal) {
      this.settle(local, 'result' in answer ? { result: answer.result } : { error: answer.error })
    }
    if (remote) {
      this.forwarded.delete(remoteKey)
      this.sendRuntimeMessage(
        remote.from,
        'result' in answer
          ? {
              kind: 'submit-result',
              requestId: remote.requestId,
              status: 'ok',
              result: answer.result.bytes,
              sessionId: answer.result.sessionId,
            }
          : { kind: 'submit-result', requestId: remote.requestId, status: answer.failure, leader: null },
      )
    }
  }

  private matches(
    request: PendingRequest,
    outcome: Exclude<ApplyOutcome, { kind: 'internal' | 'malformed' }>,
  ): boolean {
    const { operation } = outcome.envelope
    switch (request.kind) {
      case 'command':
        return (
          operation === 'command' &&
          outcome.envelope.sessionId === request.sessionId &&
          outcome.envelope.sequence === request.sequence
        )
      case 'register':
        return operation === 'register'
      case 'read-log':
      case 'read-index':
        return operation === 'read'
    }
  }

  private outcomeAnswer(
    outcome: Exclude<ApplyOutcome, { kind: 'internal' | 'malformed' }>,
  ): { result: RequestResult } | { error: ConsensusError | LimitExceededError; failure: ForwardFailure } {
    switch (outcome.kind) {
      case 'result':
        return { result: { bytes: outcome.result, sessionId: outcome.envelope.sessionId } }
      case 'registered':
        return { result: { bytes: new Uint8Array(0), sessionId: outcome.sessionId } }
      case 'read':
        return { result: { bytes: this.state.machine.query(outcome.envelope.payload), sessionId: '' } }
      case 'rejected':
        return outcome.reason === 'responses-full'
          ? {
              error: new LimitExceededError(
                'sessionResponsesMax',
                this.init.sessionResponsesMax + 1,
                this.init.sessionResponsesMax,
                {
                  session: outcome.envelope.sessionId,
                },
              ),
              failure: 'REJECTED',
            }
          : {
              error: new ConsensusError(
                'SESSION_EXPIRED',
                `session ${outcome.envelope.sessionId} is not open`,
                {
                  session: outcome.envelope.sessionId,
                  sequence: outcome.envelope.sequence,
                  reason: outcome.reason,
                },
              ),
              failure: 'SESSION_EXPIRED',
            }
    }
  }

  private readIndexReady(context: string, index: number): void {
    if (context.startsWith('p')) {
      const request = this.pending.get(Number(context.slice(1)))
      if (request && request.kind === 'read-index' && request.route === 'proposed') {
        request.route = 'reading'
        request.readIndex = index
      }
      return
    }
    const remote = this.forwarded.get(context)
    if (remote && remote.kind === 'read-index') {
      this.forwarded.delete(context)
      this.sendRuntimeMessage(remote.from, {
        kind: 'read-index-result',
        requestId: remote.requestId,
        status: 'ok',
        index,
      })
    }
  }

  private serveReads(): void {
    const applied = this.state.appliedIndex
    for (const request of this.pending.values()) {
      if (request.route !== 'reading' || request.readIndex > applied) continue
      this.settle(request, { result: { bytes: this.state.machine.query(request.payload), sessionId: '' } })
    }
  }

  private proposalDropped(context: string): void {
    if (context.startsWith('p')) {
      const request = this.pending.get(Number(context.slice(1)))
      if (request && request.route === 'proposed') request.route = 'waiting'
      return
    }
    const key = context.startsWith('f') ? context.slice(1) : context
    const remote = this.forwarded.get(key)
    if (remote) this.refuseForwarded(key, remote, 'NOT_LEADER')
  }

  private statusChanged(status: EngineStatus): void {
    const previous = this.lastStatus
    this.lastStatus = status
    this.events.emit('status', status)
    const leaderChanged = previous?.leader !== status.leader || previous?.term !== status.term
    if (!leaderChanged) return
    this.logger.debug({ leader: status.leader, term: status.term, role: status.role }, 'leader changed')
    if (status.leader !== this.id) {
      for (const [key, remote] of [...this.forwarded]) this.refuseForwarded(key, remote, 'NOT_LEADER')
    }
    this.reviewRequests(true)
  }

  private refuseForwarded(key: string, remote: ForwardedRequest, failure: ForwardFailure): void {
    this.forwarded.delete(key)
    const leader = this.engine.status().leader
    this.sendRuntimeMessage(
      remote.from,
      remote.kind === 'submit'
        ? { kind: 'submit-result', requestId: remote.requestId, status: failure, leader }
        : { kind: 'read-index-result', requestId: remote.requestId, status: failure, leader },
    )
  }

  /**
   * Takes a snapshot every `snapshotIntervalEntries` applied entries plus this replica's stagger
   * (`snapshotStaggerEntries`). The
   * capture is taken at exactly the applied index; encoding (in steps, when the machine can capture),
   * saving it, then compacting the engine's and the store's logs finish in the background, so a
   * multi-megabyte snapshot and its fsyncs do not stall replication. One at a time: the next is
   * considered once this one is done.
   */
  private maybeSnapshot(): void {
    if (this.snapshotting) return
    const applied = this.state.appliedIndex
    const interval = this.init.snapshotIntervalEntries
    if (applied - this.snapshotIndex < interval) return
    if (applied - this.snapshotIndex < interval + this.snapshotStaggerEntries()) return
    const meta: Snapshot['meta'] = {
      index: applied,
      term: this.appliedTerm,
      membership: this.factory.snapshotMembership(this.engine, applied),
    }
    this.snapshotIndex = applied
    this.snapshotting = true
    // The state is fixed now and encoded in steps between applies (all at once in the first step for
    // a machine that cannot capture), so a large state does not stall commits for the whole encode.
    const stepper = new SnapshotStepper(this.state.captureSnapshot(), this.clock)
    this.snapshotStepper = stepper
    const saving = stepper.done
      .then(async (data) => {
        if (this.snapshotStepper === stepper) this.snapshotStepper = null
        if (data === null || this.phase !== 'running') return
        await this.saveSnapshot({ meta, data }, stepper.steps)
      })
      .catch((thrown: unknown) => this.fail(toError(thrown)))
      .finally(() => {
        this.snapshotting = false
      })
    this.unawaitedWrites = Promise.all([this.unawaitedWrites, saving]).then(() => undefined)
  }

  /**
   * How many entries past `snapshotIntervalEntries` this replica waits: its place among the group's
   * members (sorted ids) spreads the members evenly over `snapshotStagger` of the interval, so they
   * do not all encode at the same index (a commit needs a majority, and a busy follower then rarely
   * holds one up). A replica not in the membership it knows of waits by its id instead.
   */
  private snapshotStaggerEntries(): number {
    const { voters, learners } = this.engine.status()
    const members = [...new Set([...voters, ...learners])].sort()
    const position = members.indexOf(this.id)
    // A node id is a hash of its public key, so its leading 32 bits are a uniform draw.
    const fraction =
      position >= 0 ? position / members.length : Number.parseInt(this.id.slice(0, 8), 16) / 2 ** 32
    return Math.floor(this.init.snapshotIntervalEntries * this.init.snapshotStagger * fraction)
  }

  /** Gives up a snapshot still being encoded (its state is being replaced, or the runtime stops). */
  private abandonSnapshotEncoding(): void {
    this.snapshotStepper?.abandon()
    this.snapshotStepper = null
  }

  private async saveSnapshot(snapshot: Snapshot, encodeSteps: number): Promise<void> {
    const { index, term } = snapshot.meta
    await this.snapshotStore.save(snapshot)
    if (this.phase !== 'running') return
    // The engine is only touched between Readys; `compact` ignores a snapshot older than one it has
    // installed from the leader meanwhile.
    await new Promise<void>((resolve) => {
      const compactEngine = (): void => {
        this.releaseSnapshotWaiter = null
        if (this.phase === 'running') this.engine.compact(snapshot)
        resolve()
      }
      if (this.insideReady) {
        this.releaseSnapshotWaiter = resolve
        this.deferred.push(compactEngine)
      } else {
        compactEngine()
      }
    })
    if (this.phase !== 'running') return
    await this.logStore.compact(index, term)
    this.metrics.snapshots.inc()
    this.events.emit('snapshot', { index, term, bytes: snapshot.data.length, encodeSteps })
    this.logger.debug({ index, bytes: snapshot.data.length, encodeSteps }, 'snapshot saved and log compacted')
  }

  // ---------------------------------------------------------------- the network boundary

  private peerNodeId(replica: ReplicaId): NodeId {
    let nodeId = this.peerIds.get(replica)
    if (!nodeId) {
      nodeId = NodeId.fromHex(replica)
      this.peerIds.set(replica, nodeId)
    }
    return nodeId
  }

  private sendEngineMessage(to: ReplicaId, message: Message): void {
    const type = this.factory.codec.typeOf(message)
    this.sendEnvelope(to, type, this.factory.codec.encode(message))
  }

  private sendRuntimeMessage(to: ReplicaId, message: RuntimeMessage): boolean {
    return this.sendEnvelope(to, runtimeMessageType(message), encodeRuntimeMessage(message))
  }

  private sendEnvelope(to: ReplicaId, type: string, payload: unknown): boolean {
    const bytes = this.codec.encode({ type, sender: this.transport.localId, payload })
    const result = this.transport.send(this.peerNodeId(to), bytes)
    if (!result.ok) {
      this.metrics.sendFailures.inc({ code: result.error.code })
      return false
    }
    return true
  }

  private refuse(peer: ReplicaId, reason: string, error: SocketCloudError): void {
    this.metrics.refused.inc({ reason })
    this.logger.debug({ peer: peer.slice(0, 12), reason, error: error.message }, 'refused inbound message')
    this.events.emit('refused', { peer, error })
  }

  private receive(event: TransportEvents['message']): void {
    if (this.phase !== 'running') return
    const peer = event.from.hex
    let envelope
    try {
      envelope = this.codec.decode(event.bytes)
    } catch (thrown) {
      this.refuse(peer, 'decode', asTypedError(thrown))
      return
    }
    if (!envelope.sender.equals(event.from)) {
      this.refuse(
        peer,
        'sender-mismatch',
        new DecodeError('INVALID_FIELD', 'envelope sender differs from the transport peer', {
          sender: envelope.sender.hex,
        }),
      )
      return
    }
    const engineMessage = !envelope.type.startsWith(RUNTIME_MESSAGE_PREFIX)
    let message: Message | RuntimeMessage
    try {
      message = engineMessage
        ? this.factory.codec.decode(envelope.type, envelope.payload)
        : decodeRuntimeMessage(envelope.type, envelope.payload, this.init.proposalBytesMax)
    } catch (thrown) {
      this.refuse(peer, 'decode', asTypedError(thrown))
      return
    }
    if (this.insideReady) {
      if (this.inbox.length >= this.init.inboxMessagesMax) {
        // Consensus protocols tolerate loss; dropping here is backpressure, not a change of state.
        this.refuse(
          peer,
          'inbox-full',
          new LimitExceededError('inboxMessagesMax', this.inbox.length + 1, this.init.inboxMessagesMax),
        )
        return
      }
      this.inbox.push({ peer, type: envelope.type, message, engineMessage })
      return
    }
    this.deliver(peer, envelope.type, message, engineMessage)
    this.requestLoop()
  }

  private deliver(
    peer: ReplicaId,
    type: string,
    message: Message | RuntimeMessage,
    engineMessage: boolean,
  ): void {
    try {
      if (!engineMessage) {
        this.receiveRuntimeMessage(peer, message as RuntimeMessage)
        return
      }
      const result = this.engine.step(peer, message as Message)
      if (!result.ok && result.reason !== 'stale') {
        this.refuse(
          peer,
          result.reason,
          result.reason === 'not-member'
            ? new ConsensusError('NOT_MEMBER', result.detail, { peer, type })
            : new DecodeError('INVALID_FIELD', result.detail, { peer, type, reason: result.reason }),
        )
      }
    } catch (thrown) {
      this.fail(toError(thrown))
    }
  }

  private receiveRuntimeMessage(peer: ReplicaId, message: RuntimeMessage): void {
    const status = this.engine.status()
    if (!status.voters.includes(peer) && !status.learners.includes(peer)) {
      this.refuse(
        peer,
        'not-member',
        new ConsensusError('NOT_MEMBER', 'runtime message from a non-member', { peer }),
      )
      return
    }
    switch (message.kind) {
      case 'submit':
        this.leadForwardedSubmit(peer, message, status)
        return
      case 'read-index':
        this.leadForwardedReadIndex(peer, message.requestId, status)
        return
      case 'submit-result': {
        const request = this.pending.get(message.requestId)
        if (
          !request ||
          request.route !== 'forwarded' ||
          request.target !== peer ||
          request.kind === 'read-index'
        )
          return
        if (message.status === 'ok') {
          this.settle(request, {
            result: { bytes: plainBytes(message.result), sessionId: message.sessionId },
          })
        } else this.forwardFailed(request, message.status)
        return
      }
      case 'read-index-result': {
        const request = this.pending.get(message.requestId)
        if (
          !request ||
          request.route !== 'forwarded' ||
          request.target !== peer ||
          request.kind !== 'read-index'
        )
          return
        if (message.status === 'ok') {
          request.route = 'reading'
          request.readIndex = message.index
          this.serveReads()
        } else if (message.status === 'UNSUPPORTED') {
          request.kind = 'read-log'
          this.route(request)
        } else this.forwardFailed(request, message.status)
        return
      }
    }
  }

  /** A refusal from the leader: final for a too-large or rejected command, otherwise retried. */
  private forwardFailed(request: PendingRequest, failure: ForwardFailure): void {
    switch (failure) {
      case 'PROPOSAL_TOO_LARGE':
        this.settle(request, {
          error: new ConsensusError('PROPOSAL_TOO_LARGE', 'the leader refused the proposal as too large'),
        })
        return
      case 'SESSION_EXPIRED':
        this.settle(request, {
          error: new ConsensusError('SESSION_EXPIRED', `session ${request.sessionId} is not open`, {
            session: request.sessionId,
          }),
        })
        return
      case 'REJECTED':
        this.settle(request, {
          error: new LimitExceededError(
            'sessionResponsesMax',
            this.init.sessionResponsesMax + 1,
            this.init.sessionResponsesMax,
          ),
        })
        return
      default:
        // NOT_LEADER, NO_LEADER, OVERLOADED, UNSUPPORTED for a submit: place it again on the next tick.
        request.route = 'waiting'
    }
  }

  private leadForwardedSubmit(peer: ReplicaId, message: SubmitRequest, status: EngineStatus): void {
    const key = `${peer}:${message.requestId}`
    const reply = (failure: ForwardFailure): void => {
      this.sendRuntimeMessage(peer, {
        kind: 'submit-result',
        requestId: message.requestId,
        status: failure,
        leader: status.leader,
      })
    }
    if (status.leader !== this.id) return reply(status.leader === null ? 'NO_LEADER' : 'NOT_LEADER')
    if (message.operation === 'command' && message.sessionId.length === 0) return reply('SESSION_EXPIRED')
    const existing = this.forwarded.get(key)
    if (existing) return // already proposed in this term; the answer comes when it applies
    if (this.forwarded.size >= this.init.forwardedRequestsMax) return reply('OVERLOADED')
    const outcome = this.proposeEntry(message.operation, peer, message.requestId, message, `f${key}`)
    if (outcome === 'too-large') return reply('PROPOSAL_TOO_LARGE')
    if (outcome === 'refused') return reply('NOT_LEADER')
    this.forwarded.set(key, { from: peer, requestId: message.requestId, kind: 'submit' })
  }

  private leadForwardedReadIndex(peer: ReplicaId, requestId: number, status: EngineStatus): void {
    const reply = (failure: ForwardFailure): void => {
      this.sendRuntimeMessage(peer, {
        kind: 'read-index-result',
        requestId,
        status: failure,
        leader: status.leader,
      })
    }
    if (status.leader !== this.id) return reply(status.leader === null ? 'NO_LEADER' : 'NOT_LEADER')
    if (this.forwarded.size >= this.init.forwardedRequestsMax) return reply('OVERLOADED')
    const context = `r${this.forwardedContextNext++}`
    const answer = this.engine.readIndex(context)
    if (!answer.ok) return reply(answer.reason === 'unsupported' ? 'UNSUPPORTED' : 'NOT_LEADER')
    this.forwarded.set(context, { from: peer, requestId, kind: 'read-index' })
  }

  // ---------------------------------------------------------------- failure

  private fail(error: Error): void {
    if (this.phase === 'stopped') {
      // A write that was still finishing when `stop` was called (the last commit index, a snapshot
      // save) has nobody left to fail; it is reported rather than dropped.
      this.logger.error({ error: error.message, replica: this.id }, 'failed after the runtime stopped')
      return
    }
    this.logger.error({ error: error.message }, 'consensus runtime failed; stopping')
    this.halt(
      new ConsensusError('STOPPED', `the consensus runtime failed: ${error.message}`, { replica: this.id }),
    )
    this.events.emit('failed', { error })
  }

  private halt(reason: ConsensusError): void {
    this.phase = 'stopped'
    this.tickTimer?.cancel()
    this.tickTimer = null
    this.unsubscribe?.()
    this.unsubscribe = null
    for (const request of [...this.pending.values()]) this.settle(request, { error: reason })
    this.forwarded.clear()
    this.inbox.length = 0
    this.deferred.length = 0
    // A background snapshot waiting for the end of a Ready gives up instead of waiting forever.
    this.releaseSnapshotWaiter?.()
    this.releaseSnapshotWaiter = null
    this.abandonSnapshotEncoding()
  }
}

/** A view of decoded bytes as a plain Uint8Array (msgpackr hands out Buffers on Node). */
function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function asTypedError(thrown: unknown): SocketCloudError {
  if (thrown instanceof SocketCloudError) return thrown
  return new DecodeError('MALFORMED', toError(thrown).message)
}

/** Stands in for the application while a snapshot is only being validated. */
const nullMachine: StateMachine = {
  apply: () => new Uint8Array(0),
  query: () => new Uint8Array(0),
  snapshot: () => new Uint8Array(0),
  restore: () => undefined,
}

/**
 * An engine that lets the driver finish a Ready's log write after `advance` (the Raft engine does).
 * Checked structurally so the runtime stays protocol-agnostic.
 */
interface BackgroundDurability {
  advanceBeforeDurable(ready: Ready<unknown>): void
  markDurable(index: number, term: number): void
}

function hasBackgroundDurability(engine: object): engine is BackgroundDurability {
  const candidate = engine as Partial<BackgroundDurability>
  return typeof candidate.advanceBeforeDurable === 'function' && typeof candidate.markDurable === 'function'
}
