/**
 * Typed errors shared by every package. Each carries a stable `code` that callers branch on and a
 * `context` object with the values that explain it (sizes, limits, peers), so a log line or an API
 * response can say exactly what went wrong without parsing a message string.
 */
export type ErrorContext = Readonly<Record<string, unknown>>

export class SocketCloudError extends Error {
  readonly code: string
  readonly context: ErrorContext

  constructor(code: string, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.context = context
  }

  toJSON(): { name: string; code: string; message: string; context: ErrorContext } {
    return { name: this.name, code: this.code, message: this.message, context: this.context }
  }
}

/** Input from the network or a user could not be decoded or failed validation. */
export type DecodeErrorCode =
  'MALFORMED' | 'TRUNCATED' | 'OVERSIZED' | 'UNSUPPORTED_VERSION' | 'UNKNOWN_TYPE' | 'INVALID_FIELD'
export class DecodeError extends SocketCloudError {
  declare readonly code: DecodeErrorCode
  constructor(
    code: DecodeErrorCode,
    message: string,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, context, options)
  }
}

/** Options or configuration failed validation at construction or start. */
export class ConfigError extends SocketCloudError {
  constructor(message: string, context: ErrorContext = {}) {
    super('INVALID_CONFIG', message, context)
  }
}

/** A named limit (`...Max`) would be exceeded; the operation was refused rather than growing a buffer. */
export class LimitExceededError extends SocketCloudError {
  constructor(limit: string, value: number, max: number, context: ErrorContext = {}) {
    super('LIMIT_EXCEEDED', `${limit} exceeded: ${value} > ${max}`, { limit, value, max, ...context })
  }
}

export type TransportErrorCode =
  | 'BACKPRESSURE'
  | 'PEER_UNREACHABLE'
  | 'CONNECTION_CLOSED'
  | 'CONNECTION_REFUSED'
  | 'CONNECTIONS_EXHAUSTED'
  | 'FRAME_TOO_LARGE'
  | 'BAD_FRAME'
  | 'HANDSHAKE_FAILED'
  | 'HANDSHAKE_TIMEOUT'
  | 'PEER_ID_MISMATCH'
  | 'INVALID_ADDRESS'
  | 'TRANSPORT_CLOSED'
  | 'IDLE_TIMEOUT'
  | 'IO_ERROR'
export class TransportError extends SocketCloudError {
  declare readonly code: TransportErrorCode
  constructor(
    code: TransportErrorCode,
    message: string,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, context, options)
  }
}

export type ConsensusErrorCode =
  | 'NOT_LEADER'
  | 'NO_LEADER'
  | 'PROPOSAL_DROPPED'
  | 'PROPOSAL_TOO_LARGE'
  | 'NOT_MEMBER'
  | 'TIMEOUT'
  | 'STOPPED'
  | 'SESSION_EXPIRED'
export class ConsensusError extends SocketCloudError {
  declare readonly code: ConsensusErrorCode
  constructor(code: ConsensusErrorCode, message: string, context: ErrorContext = {}) {
    super(code, message, context)
  }
}

export type StorageErrorCode = 'CORRUPT' | 'IO_ERROR' | 'CLOSED' | 'NOT_FOUND' | 'OUT_OF_ORDER'
export class StorageError extends SocketCloudError {
  declare readonly code: StorageErrorCode
  constructor(
    code: StorageErrorCode,
    message: string,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, context, options)
  }
}

/** A broken invariant: a bug, never an operating condition. It must crash loudly. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`)
    this.name = 'AssertionError'
  }
}

/** States an invariant. Operating errors (a peer gone, a bad frame) are typed errors, not assertions. */
export function assert(condition: unknown, why: string): asserts condition {
  if (!condition) throw new AssertionError(why)
}

/** Makes an exhaustive switch fail to compile when a new variant is added. */
export function unreachable(value: never, what = 'value'): never {
  throw new AssertionError(`unexpected ${what}: ${String(value)}`)
}

/** Normalises anything thrown into an Error so it can be logged and wrapped with context. */
export function toError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown))
}
