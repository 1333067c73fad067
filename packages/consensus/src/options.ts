import { checkLimit, checkNumber, ConfigError } from '@socketcloud/core'

/** Tunables of the runtime; every limit has a default and is validated when the runtime is built. */
export interface ConsensusRuntimeInit {
  /** Wall-clock length of one engine tick. Engine timeouts are counted in these. @default 100 */
  readonly tickIntervalMs?: number
  /** How long `submit` and `read` wait for an outcome before failing with TIMEOUT. @default 10000 */
  readonly requestTimeoutMs?: number
  /** A request forwarded to the leader without an answer is sent again after this long. @default 1000 */
  readonly forwardRetryMs?: number
  /** Local requests (submissions and reads) in flight; one more is refused with LimitExceededError. @default 10000 */
  readonly pendingRequestsMax?: number
  /** Requests forwarded to this node by followers and not yet answered; beyond it they get OVERLOADED. @default 10000 */
  readonly forwardedRequestsMax?: number
  /**
   * Hold every engine input (messages, ticks, proposals) while a Ready is being persisted, for engines
   * that cannot take inputs between `ready()` and `advance()`. Engines built like etcd's raft (every
   * Ready hands its contents over at `ready()`, as `@socketcloud/consensus-raft` does) take them at
   * once, which lets acknowledgements and new proposals overlap the fsync. @default false
   */
  readonly deferInputsDuringReady?: boolean
  /**
   * Let a Ready whose write promises nothing to anyone (a leader appending new proposals) finish its
   * write after `advance`, when the engine supports it: the loop goes on to apply commits and take new
   * proposals during the leader's own fsync, and the engine counts the leader's copy once the write
   * is durable. @default true
   */
  readonly backgroundLogWrites?: boolean
  /** Inbound messages held while a Ready is persisted; beyond it they are dropped and counted. @default 10000 */
  readonly inboxMessagesMax?: number
  /** Largest command or query, in bytes; larger ones fail with PROPOSAL_TOO_LARGE. @default 1 MiB */
  readonly proposalBytesMax?: number
  /** Largest snapshot accepted from storage or a peer, in bytes. @default 1 GiB */
  readonly snapshotBytesMax?: number
  /**
   * A snapshot is taken after this many entries were applied since the last one. Encoding the state
   * machine runs inside the loop and costs time in proportion to the state, so the interval
   * amortises it; etcd's `--snapshot-count` default is the same. @default 100000
   */
  readonly snapshotIntervalEntries?: number
  /**
   * Replicas wait up to this fraction of `snapshotIntervalEntries` longer, spread evenly by their
   * place among the group's members (sorted ids), so a group's replicas snapshot at different
   * indexes instead of all at once. 0 makes every replica snapshot at the same index. @default 0.5
   */
  readonly snapshotStagger?: number
  /** Client sessions kept in the replicated session table; the least recently active is evicted. @default 10000 */
  readonly sessionsMax?: number
  /** Responses remembered per session until the client acknowledges them. @default 20000 */
  readonly sessionResponsesMax?: number
  /** A session idle this long by log time expires. Retries must stop well within it. @default 3600000 */
  readonly sessionExpiryMs?: number
}

export type ResolvedRuntimeInit = Required<ConsensusRuntimeInit>

export const DEFAULT_RUNTIME_INIT: ResolvedRuntimeInit = Object.freeze({
  tickIntervalMs: 100,
  requestTimeoutMs: 10_000,
  forwardRetryMs: 1_000,
  pendingRequestsMax: 10_000,
  forwardedRequestsMax: 10_000,
  deferInputsDuringReady: false,
  backgroundLogWrites: true,
  inboxMessagesMax: 10_000,
  proposalBytesMax: 1024 * 1024,
  snapshotBytesMax: 1024 * 1024 * 1024,
  snapshotIntervalEntries: 100_000,
  snapshotStagger: 0.5,
  sessionsMax: 10_000,
  sessionResponsesMax: 20_000,
  sessionExpiryMs: 3_600_000,
})

function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(`${name} must be a boolean`, { option: name, value })
  return value
}

export function resolveRuntimeInit(init: ConsensusRuntimeInit): ResolvedRuntimeInit {
  const merged = { ...DEFAULT_RUNTIME_INIT, ...init }
  const resolved: ResolvedRuntimeInit = {
    tickIntervalMs: checkNumber('tickIntervalMs', merged.tickIntervalMs, 1, 60_000),
    requestTimeoutMs: checkNumber('requestTimeoutMs', merged.requestTimeoutMs, 1),
    forwardRetryMs: checkNumber('forwardRetryMs', merged.forwardRetryMs, 1),
    pendingRequestsMax: checkLimit('pendingRequestsMax', merged.pendingRequestsMax),
    forwardedRequestsMax: checkLimit('forwardedRequestsMax', merged.forwardedRequestsMax),
    deferInputsDuringReady: checkBoolean('deferInputsDuringReady', merged.deferInputsDuringReady),
    backgroundLogWrites: checkBoolean('backgroundLogWrites', merged.backgroundLogWrites),
    inboxMessagesMax: checkLimit('inboxMessagesMax', merged.inboxMessagesMax),
    proposalBytesMax: checkLimit('proposalBytesMax', merged.proposalBytesMax),
    snapshotBytesMax: checkLimit('snapshotBytesMax', merged.snapshotBytesMax),
    snapshotIntervalEntries: checkLimit('snapshotIntervalEntries', merged.snapshotIntervalEntries),
    snapshotStagger: checkNumber('snapshotStagger', merged.snapshotStagger, 0, 1),
    sessionsMax: checkLimit('sessionsMax', merged.sessionsMax),
    sessionResponsesMax: checkLimit('sessionResponsesMax', merged.sessionResponsesMax),
    sessionExpiryMs: checkNumber('sessionExpiryMs', merged.sessionExpiryMs, 1),
  }
  if (resolved.sessionExpiryMs <= resolved.requestTimeoutMs) {
    throw new ConfigError(
      'sessionExpiryMs must exceed requestTimeoutMs, or a retried command could apply twice',
      {
        sessionExpiryMs: resolved.sessionExpiryMs,
        requestTimeoutMs: resolved.requestTimeoutMs,
      },
    )
  }
  if (resolved.sessionResponsesMax < resolved.pendingRequestsMax) {
    throw new ConfigError('sessionResponsesMax must be at least pendingRequestsMax', {
      sessionResponsesMax: resolved.sessionResponsesMax,
      pendingRequestsMax: resolved.pendingRequestsMax,
    })
  }
  return resolved
}
