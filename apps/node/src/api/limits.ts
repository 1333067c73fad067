import { checkLimit } from '@socketcloud/core'

/** Every bound of the API, with its default; validated when the server is built (ConfigError). */
export interface ApiLimits {
  /** Request body bytes; a larger body is answered 413 `body_too_large` (early, from Content-Length). @default 1 MiB */
  readonly requestBodyBytesMax?: number
  /** Open HTTP and WebSocket connections; one more is closed at once and counted. @default 1024 */
  readonly connectionsMax?: number
  /** Requests being handled at once; one more is answered 429 `overloaded`. @default 10,000 */
  readonly inflightRequestsMax?: number
  /** Open watches on this node; one more upgrade is answered 429 `overloaded`. @default 1024 */
  readonly watchersMax?: number
  /**
   * Open watches per client address. A WebSocket connection carries exactly one watch, so this is
   * the per-client bound on watchers. @default 256
   */
  readonly watchersPerClientMax?: number
  /** Bytes of a key prefix (list and watch). @default 512 */
  readonly prefixBytesMax?: number
  /** Events queued for one watcher beyond what its socket holds; beyond it: closed with 4429. @default 20,000 */
  readonly watchQueueEventsMax?: number
  /** Bytes a watcher's socket may hold unsent before events wait in its queue. @default 4 MiB */
  readonly watchBackpressureBytesMax?: number
  /** How long a follower waits for the leader when forwarding an admin call. @default 30,000 */
  readonly forwardTimeoutMs?: number
}

export type ResolvedApiLimits = Required<ApiLimits>

export const API_LIMIT_DEFAULTS: ResolvedApiLimits = Object.freeze({
  requestBodyBytesMax: 1024 * 1024,
  connectionsMax: 1024,
  inflightRequestsMax: 10_000,
  watchersMax: 1024,
  watchersPerClientMax: 256,
  prefixBytesMax: 512,
  watchQueueEventsMax: 20_000,
  watchBackpressureBytesMax: 4 * 1024 * 1024,
  forwardTimeoutMs: 30_000,
})

export function resolveApiLimits(limits: ApiLimits = {}): ResolvedApiLimits {
  const merged = { ...API_LIMIT_DEFAULTS, ...limits }
  return {
    requestBodyBytesMax: checkLimit('requestBodyBytesMax', merged.requestBodyBytesMax),
    connectionsMax: checkLimit('connectionsMax', merged.connectionsMax),
    inflightRequestsMax: checkLimit('inflightRequestsMax', merged.inflightRequestsMax),
    watchersMax: checkLimit('watchersMax', merged.watchersMax),
    watchersPerClientMax: checkLimit('watchersPerClientMax', merged.watchersPerClientMax),
    prefixBytesMax: checkLimit('prefixBytesMax', merged.prefixBytesMax),
    watchQueueEventsMax: checkLimit('watchQueueEventsMax', merged.watchQueueEventsMax),
    watchBackpressureBytesMax: checkLimit('watchBackpressureBytesMax', merged.watchBackpressureBytesMax),
    forwardTimeoutMs: checkLimit('forwardTimeoutMs', merged.forwardTimeoutMs),
  }
}
