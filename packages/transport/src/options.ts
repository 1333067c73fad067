import { ConfigError, DEFAULT_LIMITS, checkLimit, checkNumber } from '@socketcloud/core'
import { FRAME_BYTES_LIMIT } from './core/frame-decoder'
import { DATAGRAM_HEADER_BYTES } from './core/datagram'

/** UDP over IPv4 carries at most this many payload bytes in one datagram. */
const UDP_PAYLOAD_LIMIT = 65_507

/**
 * Options shared by every transport. Each limit has a safe default and an overflow behaviour:
 * refusing a connection, closing a connection, or reporting BACKPRESSURE. All are validated by
 * `resolveTransportOptions` when a transport is constructed.
 */
export interface TransportInit {
  /** Largest frame (one sealed message) on a stream transport. A larger announced frame closes the connection. @default 16 MiB */
  readonly frameBytesMax?: number
  /** Largest UDP datagram sent or accepted, header included. Larger inbound datagrams are dropped and counted. @default 65,507 */
  readonly datagramBytesMax?: number
  /** Open plus handshaking connections (or UDP peers). Beyond it inbound connections are refused and dials fail. @default 1024 */
  readonly connectionsMax?: number
  /** Per-connection queue of frames waiting for the socket, in bytes; beyond it `send` reports BACKPRESSURE. Must be at least frameBytesMax. @default max(16 MiB, frameBytesMax) */
  readonly sendQueueBytesMax?: number
  /** Per-connection queue of frames waiting for the socket, in messages; beyond it `send` reports BACKPRESSURE. @default 16,384 */
  readonly sendQueueMessagesMax?: number
  /** Bytes handed to one socket's own buffer before the transport holds the rest in its queue. @default 1 MiB */
  readonly socketBufferBytesMax?: number
  /** Bytes a connection may receive while its handshake runs; beyond it the handshake fails. @default frameBytesMax + 1 MiB */
  readonly handshakeBufferBytesMax?: number
  /** Connect (TCP/WebSocket open) must complete within this. @default 10,000 */
  readonly dialTimeoutMs?: number
  /** The upgrade (handshake) must complete within this, or the connection is closed. @default 10,000 */
  readonly handshakeTimeoutMs?: number
  /** A connection that receives nothing (keepalives count) for this long is closed. 0 disables. @default 30,000 */
  readonly idleTimeoutMs?: number
  /** A keepalive is sent when nothing else was sent for this long. 0 disables. Must be below idleTimeoutMs. @default 10,000 */
  readonly keepaliveIntervalMs?: number
  /** `close()`/`hangUp()` wait this long for queued messages to drain before cutting connections. @default 5,000 */
  readonly closeTimeoutMs?: number
  /** Re-dial peers this node dialed when their connection drops. @default true */
  readonly reconnect?: boolean
  /** Upper bound of the first reconnect delay (full jitter draws below it). @default 100 */
  readonly reconnectDelayInitialMs?: number
  /** Cap on the reconnect delay, however many attempts failed. @default 30,000 */
  readonly reconnectDelayMaxMs?: number
  /** Reconnect attempts before giving a peer up (the delay stays capped meanwhile). @default Number.MAX_SAFE_INTEGER */
  readonly reconnectAttemptsMax?: number
}

export type TransportOptions = Required<TransportInit>

export function resolveTransportOptions(init: TransportInit = {}): TransportOptions {
  const frameBytesMax = checkLimit(
    'frameBytesMax',
    init.frameBytesMax ?? DEFAULT_LIMITS.frameBytesMax,
    1,
    FRAME_BYTES_LIMIT,
  )
  const options: TransportOptions = {
    frameBytesMax,
    datagramBytesMax: checkLimit(
      'datagramBytesMax',
      init.datagramBytesMax ?? DEFAULT_LIMITS.datagramBytesMax,
      DATAGRAM_HEADER_BYTES + 1,
      UDP_PAYLOAD_LIMIT,
    ),
    connectionsMax: checkLimit('connectionsMax', init.connectionsMax ?? 1024, 1, 1_000_000),
    sendQueueBytesMax: checkLimit(
      'sendQueueBytesMax',
      init.sendQueueBytesMax ?? Math.max(16 * 1024 * 1024, frameBytesMax),
      1,
    ),
    sendQueueMessagesMax: checkLimit('sendQueueMessagesMax', init.sendQueueMessagesMax ?? 16_384, 1),
    socketBufferBytesMax: checkLimit('socketBufferBytesMax', init.socketBufferBytesMax ?? 1024 * 1024, 1),
    handshakeBufferBytesMax: checkLimit(
      'handshakeBufferBytesMax',
      init.handshakeBufferBytesMax ?? frameBytesMax + 1024 * 1024,
      1,
    ),
    dialTimeoutMs: checkNumber('dialTimeoutMs', init.dialTimeoutMs ?? 10_000, 1),
    handshakeTimeoutMs: checkNumber('handshakeTimeoutMs', init.handshakeTimeoutMs ?? 10_000, 1),
    idleTimeoutMs: checkNumber('idleTimeoutMs', init.idleTimeoutMs ?? 30_000, 0),
    keepaliveIntervalMs: checkNumber('keepaliveIntervalMs', init.keepaliveIntervalMs ?? 10_000, 0),
    closeTimeoutMs: checkNumber('closeTimeoutMs', init.closeTimeoutMs ?? 5_000, 0),
    reconnect: init.reconnect ?? true,
    reconnectDelayInitialMs: checkNumber('reconnectDelayInitialMs', init.reconnectDelayInitialMs ?? 100, 0),
    reconnectDelayMaxMs: checkNumber('reconnectDelayMaxMs', init.reconnectDelayMaxMs ?? 30_000, 0),
    reconnectAttemptsMax: checkLimit(
      'reconnectAttemptsMax',
      init.reconnectAttemptsMax ?? Number.MAX_SAFE_INTEGER,
      1,
    ),
  }
  if (typeof options.reconnect !== 'boolean') {
    throw new ConfigError('reconnect must be a boolean', { option: 'reconnect', value: options.reconnect })
  }
  if (options.sendQueueBytesMax < options.frameBytesMax) {
    throw new ConfigError(
      'sendQueueBytesMax must be at least frameBytesMax, or a largest message could never be sent',
      {
        sendQueueBytesMax: options.sendQueueBytesMax,
        frameBytesMax: options.frameBytesMax,
      },
    )
  }
  if (options.reconnectDelayMaxMs < options.reconnectDelayInitialMs) {
    throw new ConfigError('reconnectDelayMaxMs must be at least reconnectDelayInitialMs', {
      reconnectDelayInitialMs: options.reconnectDelayInitialMs,
      reconnectDelayMaxMs: options.reconnectDelayMaxMs,
    })
  }
  if (
    options.idleTimeoutMs > 0 &&
    options.keepaliveIntervalMs > 0 &&
    options.keepaliveIntervalMs >= options.idleTimeoutMs
  ) {
    throw new ConfigError(
      'keepaliveIntervalMs must be below idleTimeoutMs, or live connections would time out',
      {
        keepaliveIntervalMs: options.keepaliveIntervalMs,
        idleTimeoutMs: options.idleTimeoutMs,
      },
    )
  }
  return options
}
