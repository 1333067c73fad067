import { ConfigError } from './errors'

/**
 * Workspace-wide defaults for the limits every package shares. Packages name their own limits the
 * same way (qualifier last: `frameBytesMax`, `inflightMessagesMax`) and check them with `checkLimit`.
 */
export const DEFAULT_LIMITS = Object.freeze({
  /** Largest frame on a stream transport; a larger header closes the connection. */
  frameBytesMax: 16 * 1024 * 1024,
  /** Largest encoded envelope; equal to the frame limit so one envelope fits one frame. */
  envelopeBytesMax: 16 * 1024 * 1024,
  /** Largest UDP payload we send or accept (stays under typical path MTU-safe sizes for loopback and LANs). */
  datagramBytesMax: 65_507,
  /** Deepest nesting inside a decoded payload. */
  nestingDepthMax: 64,
})

/** Validates that an option is an integer in [min, max]; throws ConfigError naming the option. */
export function checkLimit(name: string, value: unknown, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`, {
      option: name,
      value,
      min,
      max,
    })
  }
  return value
}

/** Validates a non-negative finite number (durations in milliseconds, ratios). */
export function checkNumber(name: string, value: unknown, min = 0, max = Number.MAX_VALUE): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a number in [${min}, ${max}], got ${String(value)}`, {
      option: name,
      value,
      min,
      max,
    })
  }
  return value
}
