import type { Clock, TimerHandle } from '../clock'

/**
 * The real clock: the one place in core where wall time and timers are read (the linter's purity
 * rules exempt this folder). `now()` is monotonic (performance.now), `wallNow()` is the epoch clock.
 * Timers are unref'd where the runtime supports it, so a forgotten timer never keeps a process alive.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer = setTimeout(callback, Math.max(0, delayMs))
    ;(timer as { unref?: () => void }).unref?.()
    return { cancel: () => clearTimeout(timer) }
  },
}
