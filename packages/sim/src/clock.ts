import { assert } from '@socketcloud/core'
import type { Clock, TimerHandle } from '@socketcloud/core'
import type { ScheduledEvent, TimerOwner } from './event-queue'

/** What a VirtualClock needs from its simulation (kept narrow so the two files do not knot). */
export interface VirtualTimeSource {
  readonly now: number
  readonly startWallMs: number
  scheduleAt(timeMs: number, label: string, run: () => void, owner: TimerOwner | null): ScheduledEvent
  cancelOwnedBy(owner: TimerOwner): void
}

export interface VirtualClockOptions {
  /** Label prefix for this clock's timer events in the trace. @default 'clock' */
  readonly name?: string
  /** Constant offset added to both readings, in ms (a node whose clock is ahead). @default 0 */
  readonly skewMs?: number
  /** Rate error in parts per million: +100 means this clock runs 0.01% fast. @default 0 */
  readonly driftPpm?: number
}

const INERT_HANDLE: TimerHandle = Object.freeze({ cancel() {} })

/**
 * A core `Clock` on simulated time. `now()` and `wallNow()` read virtual time (plus this clock's skew
 * and drift), and `setTimer` schedules a simulation event, so everything a driver does with time is
 * part of the deterministic schedule. `stop()` models the death of the process that owned the clock:
 * pending timers are cancelled and later ones never fire.
 */
export class VirtualClock implements Clock, TimerOwner {
  readonly name: string
  readonly skewMs: number
  readonly driftPpm: number
  private readonly rate: number
  private readonly timerLabel: string
  private pending = 0
  private stopped = false

  constructor(
    private readonly source: VirtualTimeSource,
    options: VirtualClockOptions = {},
  ) {
    this.name = options.name ?? 'clock'
    this.skewMs = options.skewMs ?? 0
    this.driftPpm = options.driftPpm ?? 0
    assert(Number.isFinite(this.skewMs), 'skewMs must be finite')
    assert(Number.isFinite(this.driftPpm) && this.driftPpm > -1_000_000, 'driftPpm must be finite and > -1e6')
    this.rate = 1 + this.driftPpm / 1_000_000
    this.timerLabel = `${this.name}.timer`
  }

  now(): number {
    return this.source.now * this.rate + this.skewMs
  }

  wallNow(): number {
    return this.source.startWallMs + this.now()
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    assert(!Number.isNaN(delayMs), 'timer delay must not be NaN')
    if (this.stopped) return INERT_HANDLE
    const localDelayMs = delayMs > 0 ? delayMs : 0
    this.pending++
    return this.source.scheduleAt(this.source.now + localDelayMs / this.rate, this.timerLabel, callback, this)
  }

  /** @internal The simulation ran or cancelled one of this clock's timers. */
  timerSettled(): void {
    this.pending--
  }

  /** Timers scheduled and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.pending
  }

  get isStopped(): boolean {
    return this.stopped
  }

  /** Cancels every pending timer and ignores later ones (the owning process crashed). */
  stop(): void {
    this.stopped = true
    this.source.cancelOwnedBy(this)
  }
}
