import type { TransportOptions } from './options'

/**
 * How often liveness is checked. A quarter of the shortest of keepalive and idle timeout bounds the
 * lateness of either to 25%; 0 means neither is enabled and no sweep runs.
 */
export function sweepIntervalMs(options: TransportOptions): number {
  const periods = [options.keepaliveIntervalMs, options.idleTimeoutMs].filter((value) => value > 0)
  if (periods.length === 0) return 0
  return Math.max(5, Math.min(...periods) / 4)
}
