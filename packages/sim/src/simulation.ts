import { assert, checkLimit, checkNumber, toError } from '@socketcloud/core'
import { VirtualClock } from './clock'
import type { VirtualClockOptions, VirtualTimeSource } from './clock'
import { SimulationError } from './errors'
import { EventQueue, ScheduledEvent } from './event-queue'
import type { CancelListener, TimerOwner } from './event-queue'
import { TraceHasher } from './hash'
import { SimRandom } from './random'

export interface SimulationOptions {
  /** The one seed every random choice of the run derives from. */
  readonly seed: number
  /** Events a simulation may execute in total before it fails with EVENTS_EXHAUSTED. @default 50_000_000 */
  readonly eventsMax?: number
  /** Wall time (ms since epoch) that virtual time 0 maps to. @default 1_700_000_000_000 */
  readonly startWallMs?: number
  /**
   * Microtask turns the async runners yield after each event, so promise chains started by an event
   * settle before the next one runs. @default 64
   */
  readonly microtaskTurns?: number
  /** Labels of the most recent events kept for failure messages. @default 32 */
  readonly traceTailMax?: number
}

export interface RunLimits {
  /** Virtual milliseconds, from now, after which the run stops. */
  readonly timeMsMax?: number
  /** Events this call may execute (on top of the simulation-wide budget). */
  readonly eventsMax?: number
}

/**
 * An invariant checked after every event. Throwing, returning `false` or returning a string (the
 * reason) fails the run; returning nothing or `true` passes.
 */
export type Invariant = () => boolean | string | void

const DEFAULT_EVENTS_MAX = 50_000_000
const DEFAULT_START_WALL_MS = 1_700_000_000_000
const DEFAULT_MICROTASK_TURNS = 64
const DEFAULT_TRACE_TAIL_MAX = 32
const DEFAULT_RUN_UNTIL_TIME_MS_MAX = 60_000

/**
 * A discrete-event simulation on virtual time, driven by one seed.
 *
 * Events run in (virtual time, scheduling order); nothing here reads real time or real randomness,
 * so the same seed and the same code give the same run, event for event. `traceHash()` folds the
 * time and label of every executed event (and every `note`, such as an injected fault) into a
 * 64-bit FNV-1a hash: two runs are the same exactly when their hashes are.
 *
 * Synchronous runners (`step`, `runFor`, `runUntil`) never yield to the JavaScript event loop. Code
 * that awaits promises (drivers awaiting `LogStore.write`) must be driven with the async runners
 * (`stepAsync`, `runForAsync`, `runUntilAsync`), which let microtasks settle after every event.
 */
export class Simulation implements VirtualTimeSource, CancelListener {
  readonly seed: number
  /** Root random stream. Give each consumer its own: `sim.random.fork()`. */
  readonly random: SimRandom
  /** The simulation's reference clock (no skew). */
  readonly clock: VirtualClock
  readonly startWallMs: number
  private readonly eventsMax: number
  private readonly microtaskTurns: number
  private readonly traceTailMax: number
  private readonly queue = new EventQueue()
  private readonly hasher = new TraceHasher()
  // The most recent labels, in a ring, formatted only when a failure asks for them.
  private readonly tailTimes: Float64Array
  private readonly tailLabels: string[]
  private tailNext = 0
  private tailCount = 0
  private readonly invariants: { name: string; check: Invariant }[] = []
  private timeMs = 0
  private sequence = 0
  private executed = 0
  private liveEvents = 0
  private running = false

  constructor(options: SimulationOptions) {
    assert(options !== null && typeof options === 'object', 'Simulation needs options with a seed')
    checkLimit('seed', options.seed, 0, 0xffff_ffff)
    this.seed = options.seed
    this.eventsMax = checkLimit('eventsMax', options.eventsMax ?? DEFAULT_EVENTS_MAX)
    this.startWallMs = checkNumber('startWallMs', options.startWallMs ?? DEFAULT_START_WALL_MS)
    this.microtaskTurns = checkLimit('microtaskTurns', options.microtaskTurns ?? DEFAULT_MICROTASK_TURNS)
    this.traceTailMax = checkLimit('traceTailMax', options.traceTailMax ?? DEFAULT_TRACE_TAIL_MAX, 0)
    this.tailTimes = new Float64Array(this.traceTailMax)
    this.tailLabels = new Array<string>(this.traceTailMax).fill('')
    this.random = new SimRandom(this.seed)
    this.clock = new VirtualClock(this, { name: 'sim' })
  }

  /** Current virtual time in milliseconds since the start of the run. */
  get now(): number {
    return this.timeMs
  }

  /** Events executed so far. */
  get eventsExecuted(): number {
    return this.executed
  }

  /** Events scheduled and neither run nor cancelled. */
  get pendingEvents(): number {
    return this.liveEvents
  }

  /** Schedules `run` after `delayMs` virtual milliseconds (clamped at 0). `label` names it in the trace. */
  schedule(delayMs: number, label: string, run: () => void): ScheduledEvent {
    assert(!Number.isNaN(delayMs), `delay of '${label}' must not be NaN`)
    return this.scheduleAt(this.timeMs + Math.max(0, delayMs), label, run)
  }

  /** Schedules `run` at absolute virtual time `timeMs` (not earlier than now). */
  scheduleAt(
    timeMs: number,
    label: string,
    run: () => void,
    owner: TimerOwner | null = null,
  ): ScheduledEvent {
    assert(timeMs >= this.timeMs, `cannot schedule '${label}' in the past (${timeMs} < ${this.timeMs})`)
    assert(Number.isFinite(timeMs), `time of '${label}' must be finite`)
    const event = new ScheduledEvent(timeMs, this.sequence++, label, run, this, owner)
    this.liveEvents++
    this.queue.push(event)
    return event
  }

  /** @internal Counts a cancellation (called by ScheduledEvent.cancel). */
  eventCancelled(event: ScheduledEvent): void {
    this.liveEvents--
    event.owner?.timerSettled()
  }

  /** @internal Cancels every pending event scheduled by `owner` (a stopped clock's timers). */
  cancelOwnedBy(owner: TimerOwner): void {
    this.queue.cancelOwnedBy(owner)
  }

  /**
   * A clock for one node, optionally skewed or drifting against virtual time. Each call makes a new
   * clock; `stop()` it when the node crashes so its timers die with it.
   */
  clockFor(
    node: string | { toShortString(): string },
    options: Omit<VirtualClockOptions, 'name'> = {},
  ): VirtualClock {
    const name = typeof node === 'string' ? node : node.toShortString()
    return new VirtualClock(this, { ...options, name })
  }

  /** Adds an invariant checked after every event; returns the function that removes it. */
  addInvariant(name: string, check: Invariant): () => void {
    const entry = { name, check }
    this.invariants.push(entry)
    return () => {
      const index = this.invariants.indexOf(entry)
      if (index >= 0) this.invariants.splice(index, 1)
    }
  }

  /** Runs every invariant now; throws SimulationError (with the seed) on the first that fails. */
  checkInvariants(): void {
    for (const { name, check } of this.invariants) {
      let verdict: boolean | string | void
      try {
        verdict = check()
      } catch (thrown) {
        const error = toError(thrown)
        throw this.failure('INVARIANT_FAILED', `invariant '${name}' failed: ${error.message}`, error)
      }
      if (verdict === false || typeof verdict === 'string') {
        const reason = typeof verdict === 'string' ? verdict : 'returned false'
        throw this.failure('INVARIANT_FAILED', `invariant '${name}' failed: ${reason}`)
      }
    }
  }

  /** Folds a label into the trace without an event: every injected fault is noted this way. */
  note(label: string): void {
    this.hasher.updateTime(this.timeMs)
    this.hasher.updateString(label)
    this.remember(label)
  }

  /** Hash of the trace so far (16 hex characters). */
  traceHash(): string {
    return this.hasher.digest()
  }

  /** The most recent trace labels, oldest first, each prefixed with its virtual time. */
  traceTail(): readonly string[] {
    const out: string[] = []
    const start = (this.tailNext - this.tailCount + this.traceTailMax) % Math.max(1, this.traceTailMax)
    for (let i = 0; i < this.tailCount; i++) {
      const slot = (start + i) % this.traceTailMax
      out.push(`${this.tailTimes[slot]}ms ${this.tailLabels[slot]}`)
    }
    return out
  }

  /** Fails the run with a message carrying the seed. */
  fail(message: string, cause?: unknown): never {
    throw this.failure('SIMULATION_FAILED', message, cause)
  }

  /** Executes the next event, then the invariants; returns false when no event is pending. */
  step(): boolean {
    return this.guardReentry(() => {
      const event = this.queue.peekLive()
      if (event === undefined) return false
      this.execute(event)
      this.checkInvariants()
      return true
    })
  }

  /** Runs every event due within the next `durationMs`, then advances the clock to the end of it. */
  runFor(durationMs: number, limits: Omit<RunLimits, 'timeMsMax'> = {}): void {
    checkNumber('durationMs', durationMs)
    const deadline = this.timeMs + durationMs
    const budget = this.callBudget(limits.eventsMax)
    this.guardReentry(() => {
      for (let ran = 0; ; ran++) {
        const event = this.queue.peekLive()
        if (event === undefined || event.timeMs > deadline) break
        this.checkCallBudget(ran, budget)
        this.execute(event)
        this.checkInvariants()
      }
      this.timeMs = deadline
    })
  }

  /**
   * Runs events until `predicate()` holds (checked before the first event and after each one).
   * Returns false when `timeMsMax` virtual ms pass first (the clock is left at that deadline) or when
   * no event is left to run.
   */
  runUntil(predicate: () => boolean, limits: RunLimits = {}): boolean {
    const deadline = this.timeMs + checkNumber('timeMsMax', limits.timeMsMax ?? DEFAULT_RUN_UNTIL_TIME_MS_MAX)
    const budget = this.callBudget(limits.eventsMax)
    return this.guardReentry(() => {
      for (let ran = 0; ; ran++) {
        if (predicate()) return true
        const event = this.queue.peekLive()
        if (event === undefined) return false
        if (event.timeMs > deadline) {
          this.timeMs = deadline
          return false
        }
        this.checkCallBudget(ran, budget)
        this.execute(event)
        this.checkInvariants()
      }
    })
  }

  /** Runs events until none is pending or `timeMsMax` passes; returns true when the queue emptied. */
  runUntilIdle(limits: RunLimits = {}): boolean {
    return this.runUntil(() => this.liveEvents === 0, limits)
  }

  /**
   * Yields `microtaskTurns` times to the microtask queue, so promise continuations queued by the
   * last event run now, deterministically, before the next event.
   */
  async settle(): Promise<void> {
    for (let turn = 0; turn < this.microtaskTurns; turn++) await Promise.resolve()
  }

  /** `step()` for async drivers: settles microtasks before the event and before the invariants. */
  async stepAsync(): Promise<boolean> {
    return this.guardReentryAsync(async () => {
      await this.settle()
      const event = this.queue.peekLive()
      if (event === undefined) return false
      this.execute(event)
      await this.settle()
      this.checkInvariants()
      return true
    })
  }

  /** `runFor()` for async drivers. */
  async runForAsync(durationMs: number, limits: Omit<RunLimits, 'timeMsMax'> = {}): Promise<void> {
    checkNumber('durationMs', durationMs)
    const deadline = this.timeMs + durationMs
    const budget = this.callBudget(limits.eventsMax)
    await this.guardReentryAsync(async () => {
      await this.settle()
      for (let ran = 0; ; ran++) {
        const event = this.queue.peekLive()
        if (event === undefined || event.timeMs > deadline) break
        this.checkCallBudget(ran, budget)
        this.execute(event)
        await this.settle()
        this.checkInvariants()
      }
      this.timeMs = deadline
    })
  }

  /** `runUntil()` for async drivers; the predicate is checked after microtasks settle. */
  async runUntilAsync(predicate: () => boolean, limits: RunLimits = {}): Promise<boolean> {
    const deadline = this.timeMs + checkNumber('timeMsMax', limits.timeMsMax ?? DEFAULT_RUN_UNTIL_TIME_MS_MAX)
    const budget = this.callBudget(limits.eventsMax)
    return this.guardReentryAsync(async () => {
      await this.settle()
      for (let ran = 0; ; ran++) {
        if (predicate()) return true
        const event = this.queue.peekLive()
        if (event === undefined) return false
        if (event.timeMs > deadline) {
          this.timeMs = deadline
          return false
        }
        this.checkCallBudget(ran, budget)
        this.execute(event)
        await this.settle()
        this.checkInvariants()
      }
    })
  }

  /**
   * Awaits `promise` while running the simulation, for a test that calls an async API of a
   * simulated node (`await sim.await(client.put(...))`). Throws SimulationError when it has not
   * settled within `timeMsMax` virtual ms.
   */
  async await<T>(promise: Promise<T>, limits: RunLimits = {}): Promise<T> {
    let settled = false
    const tracked = promise.finally(() => {
      settled = true
    })
    // Marks `tracked` handled while the run goes on; the caller still receives its rejection below.
    tracked.catch(() => undefined)
    const done = await this.runUntilAsync(() => settled, limits)
    if (!done) {
      throw this.failure('SIMULATION_FAILED', 'awaited promise did not settle within the time limit')
    }
    return tracked
  }

  private execute(event: ScheduledEvent): void {
    this.queue.pop()
    this.liveEvents--
    event.cancelled = true
    event.owner?.timerSettled()
    this.executed++
    if (this.executed > this.eventsMax) {
      throw this.failure('EVENTS_EXHAUSTED', `event budget of ${this.eventsMax} exhausted`)
    }
    this.timeMs = event.timeMs
    this.hasher.updateTime(event.timeMs)
    this.hasher.updateString(event.label)
    this.remember(event.label)
    try {
      event.run()
    } catch (thrown) {
      if (thrown instanceof SimulationError) throw thrown
      const error = toError(thrown)
      throw this.failure('EVENT_FAILED', `event '${event.label}' threw: ${error.message}`, error)
    }
  }

  private remember(label: string): void {
    if (this.traceTailMax === 0) return
    this.tailTimes[this.tailNext] = this.timeMs
    this.tailLabels[this.tailNext] = label
    this.tailNext = (this.tailNext + 1) % this.traceTailMax
    if (this.tailCount < this.traceTailMax) this.tailCount++
  }

  private callBudget(eventsMax: number | undefined): number {
    return eventsMax === undefined ? Number.POSITIVE_INFINITY : checkLimit('eventsMax', eventsMax)
  }

  private checkCallBudget(ran: number, budget: number): void {
    if (ran >= budget) {
      throw this.failure('EVENTS_EXHAUSTED', `run exceeded its budget of ${budget} events`)
    }
  }

  private guardReentry<T>(body: () => T): T {
    assert(!this.running, 'a simulation runner was called from inside an event')
    this.running = true
    try {
      return body()
    } finally {
      this.running = false
    }
  }

  private async guardReentryAsync<T>(body: () => Promise<T>): Promise<T> {
    assert(!this.running, 'a simulation runner was called while another one is running')
    this.running = true
    try {
      return await body()
    } finally {
      this.running = false
    }
  }

  private failure(code: SimulationError['code'], message: string, cause?: unknown): SimulationError {
    return new SimulationError(
      code,
      `${message} (t=${this.timeMs}ms, event #${this.executed})`,
      this.seed,
      { timeMs: this.timeMs, eventsExecuted: this.executed, recentEvents: this.traceTail() },
      cause === undefined ? undefined : { cause },
    )
  }
}
