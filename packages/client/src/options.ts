import { ConfigError, checkLimit, checkNumber } from '@socketcloud/core'
import type { Random } from '@socketcloud/core'
import type { BackoffPolicy } from './core/backoff'

/** Waits `delayMs`; rejects (or resolves early) when `signal` aborts. Injected by tests to skip real waits. */
export type Sleep = (delayMs: number, signal?: AbortSignal) => Promise<void>

export interface RetryInit extends Partial<BackoffPolicy> {
  /**
   * Attempts per call, including the first.
   * @default 6
   */
  readonly attemptsMax?: number
}

export interface SocketCloudClientInit {
  /** Base URLs of the nodes (`http://127.0.0.1:7070`); any node serves any call. At least one. */
  readonly endpoints: readonly string[]
  /** Capability token sent as `Authorization: Bearer <token>` (needed when the cluster has auth on). */
  readonly token?: string
  /**
   * Longest wait for one complete HTTP answer (headers and body); a slower attempt counts as a timeout.
   * @default 5000
   */
  readonly requestTimeoutMs?: number
  /** Retry budget and backoff (`baseDelayMs` 50, `delayMsMax` 2000, `retryAfterMsMax` 10000 by default). */
  readonly retry?: RetryInit
  /**
   * Send writes inside a client session (X-Session-Id / X-Session-Seq) so a retried write is applied at most
   * once even when an earlier attempt's fate is unknown. With `false`, writes are retried only when the
   * server says they were not applied.
   * @default true
   */
  readonly safeWrites?: boolean
  /**
   * Writes of one session may run ahead of the oldest write still in flight by fewer than this many
   * sequence numbers; a write beyond waits. Must not exceed the server's `sessionAckWindow` (1,000 by
   * default), which is how many answers the server keeps below a session's newest sequence number.
   * @default 1000
   */
  readonly sessionWindowMax?: number
  /**
   * Largest response body read, in bytes; a larger one is a `bad_response` error.
   * @default 67108864 (64 MiB)
   */
  readonly responseBytesMax?: number
  /** Limits of `watch()` streams. */
  readonly watch?: WatchInit
  /** Source of backoff jitter. @default Math.random */
  readonly random?: Random
  /** How the client waits between attempts. @default a real timer */
  readonly sleep?: Sleep
}

export interface WatchInit {
  /**
   * Events buffered for a consumer that is not reading; when full, the socket is paused (TCP backpressure)
   * until the consumer catches up.
   * @default 10000
   */
  readonly queueEventsMax?: number
  /**
   * Consecutive failed connection attempts before the watch gives up with `unreachable`.
   * @default 20
   */
  readonly reconnectAttemptsMax?: number
  /**
   * Longest wait for the WebSocket handshake.
   * @default 5000
   */
  readonly connectTimeoutMs?: number
  /**
   * How often an open watch pings the node; a ping unanswered by the next one drops the connection (and the
   * watch reconnects elsewhere).
   * @default 10000
   */
  readonly pingIntervalMs?: number
  /**
   * Largest single WebSocket message accepted.
   * @default 16777216 (16 MiB)
   */
  readonly messageBytesMax?: number
}

export interface ResolvedOptions {
  readonly endpoints: readonly string[]
  readonly token: string | undefined
  readonly requestTimeoutMs: number
  readonly attemptsMax: number
  readonly backoff: BackoffPolicy
  readonly safeWrites: boolean
  readonly sessionWindowMax: number
  readonly responseBytesMax: number
  readonly watch: Required<WatchInit>
  readonly random: Random
  readonly sleep: Sleep
}

export const mathRandom: Random = {
  nextUint32: () => Math.floor(Math.random() * 0x1_0000_0000),
  nextFloat: () => Math.random(),
  nextInt: (maxExclusive) => Math.floor(Math.random() * maxExclusive),
}

export const realSleep: Sleep = (delayMs, signal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) {
      resolve()
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, delayMs)
    signal?.addEventListener('abort', onAbort, { once: true })
  })

function normaliseEndpoint(endpoint: unknown, index: number): string {
  if (typeof endpoint !== 'string') throw new ConfigError(`endpoints[${index}] must be a string`, { index })
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    throw new ConfigError(`endpoints[${index}] is not a URL: ${endpoint}`, { index, endpoint })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`endpoints[${index}] must be http:// or https://, got ${endpoint}`, {
      index,
      endpoint,
    })
  }
  if (url.search !== '' || url.hash !== '') {
    throw new ConfigError(`endpoints[${index}] must not carry a query or fragment: ${endpoint}`, { index })
  }
  // Keep any path prefix (a reverse proxy may mount the API under one) without a trailing slash.
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}

/** Validates the init and fills defaults; throws ConfigError naming the bad option. */
export function resolveOptions(init: SocketCloudClientInit): ResolvedOptions {
  if (!Array.isArray(init.endpoints) || init.endpoints.length === 0) {
    throw new ConfigError('endpoints must be a non-empty array of http URLs')
  }
  checkLimit('endpoints.length', init.endpoints.length, 1, 1000)
  if (init.token !== undefined && (typeof init.token !== 'string' || init.token.length === 0)) {
    throw new ConfigError('token must be a non-empty string when given')
  }
  if (init.token !== undefined && /[\r\n]/.test(init.token)) {
    throw new ConfigError('token must not contain line breaks')
  }
  const retry = init.retry ?? {}
  const backoff: BackoffPolicy = {
    baseDelayMs: checkNumber('retry.baseDelayMs', retry.baseDelayMs ?? 50, 0, 60_000),
    delayMsMax: checkNumber('retry.delayMsMax', retry.delayMsMax ?? 2000, 0, 600_000),
    retryAfterMsMax: checkNumber('retry.retryAfterMsMax', retry.retryAfterMsMax ?? 10_000, 0, 600_000),
  }
  const watch = init.watch ?? {}
  return {
    endpoints: init.endpoints.map(normaliseEndpoint),
    token: init.token,
    requestTimeoutMs: checkLimit('requestTimeoutMs', init.requestTimeoutMs ?? 5000, 1, 3_600_000),
    attemptsMax: checkLimit('retry.attemptsMax', retry.attemptsMax ?? 6, 1, 1000),
    backoff,
    safeWrites: init.safeWrites ?? true,
    sessionWindowMax: checkLimit('sessionWindowMax', init.sessionWindowMax ?? 1000, 1, 1_000_000),
    responseBytesMax: checkLimit('responseBytesMax', init.responseBytesMax ?? 64 * 1024 * 1024, 1024),
    watch: {
      queueEventsMax: checkLimit('watch.queueEventsMax', watch.queueEventsMax ?? 10_000, 1, 10_000_000),
      reconnectAttemptsMax: checkLimit(
        'watch.reconnectAttemptsMax',
        watch.reconnectAttemptsMax ?? 20,
        1,
        1_000_000,
      ),
      connectTimeoutMs: checkLimit('watch.connectTimeoutMs', watch.connectTimeoutMs ?? 5000, 1, 3_600_000),
      pingIntervalMs: checkLimit('watch.pingIntervalMs', watch.pingIntervalMs ?? 10_000, 10, 3_600_000),
      messageBytesMax: checkLimit('watch.messageBytesMax', watch.messageBytesMax ?? 16 * 1024 * 1024, 1024),
    },
    random: init.random ?? mathRandom,
    sleep: init.sleep ?? realSleep,
  }
}
