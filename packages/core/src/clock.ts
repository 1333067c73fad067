/** Handle for a scheduled callback. Cancelling twice, or after it fired, is a no-op. */
export interface TimerHandle {
  cancel(): void
}

/**
 * Time for drivers. Implemented by `systemClock` (real time) and by the simulator's virtual clock;
 * called by drivers, transports and anything that schedules work. Pure protocol cores never see a
 * Clock: their drivers turn it into `tick()` calls.
 */
export interface Clock {
  /** Monotonic milliseconds (may be fractional). Only differences are meaningful. */
  now(): number
  /** Milliseconds since the Unix epoch, for values that leave the process (token expiry, lease times). */
  wallNow(): number
  /** Runs `callback` once after `delayMs` (clamped at 0). */
  setTimer(delayMs: number, callback: () => void): TimerHandle
}

/** Runs `callback` every `intervalMs` on `clock` until cancelled; the next run is scheduled after each call. */
export function every(clock: Clock, intervalMs: number, callback: () => void): TimerHandle {
  let handle: TimerHandle | undefined
  let cancelled = false
  const run = (): void => {
    if (cancelled) return
    handle = clock.setTimer(intervalMs, run)
    callback()
  }
  handle = clock.setTimer(intervalMs, run)
  return {
    cancel() {
      cancelled = true
      handle?.cancel()
    },
  }
}
