import { DEFAULT_LIMITS, checkLimit, checkNumber } from '@socketcloud/core'

/** Faults the network draws from the seed for every message. Each can be changed mid-run (`setFaults`). */
export interface NetworkFaults {
  /** One-way base delay of every message. @default 1 */
  readonly latencyMs?: number
  /** Extra delay drawn uniformly from [0, jitterMs). Ordering per connection still holds. @default 0 */
  readonly jitterMs?: number
  /** Probability a data message is lost. @default 0 */
  readonly dropRate?: number
  /** Probability a data message is delivered twice. @default 0 */
  readonly duplicateRate?: number
  /** Probability a data message skips the per-connection order and is delayed further. @default 0 */
  readonly reorderRate?: number
  /** Largest extra delay of a reordered message. @default 10 */
  readonly reorderDelayMsMax?: number
}

export interface SimNetworkOptions extends NetworkFaults {
  /** A dial with no answer (partition, crashed listener) fails with PEER_UNREACHABLE after this. @default 1000 */
  readonly dialTimeoutMs?: number
  /** Messages in flight to one peer before `send` reports BACKPRESSURE. @default 1024 */
  readonly sendQueueMessagesMax?: number
  /** Largest message `send` accepts; larger ones return FRAME_TOO_LARGE. @default DEFAULT_LIMITS.frameBytesMax */
  readonly frameBytesMax?: number
  /** Connections one endpoint holds; a dial beyond it is refused and the listener emits `error`. @default 1024 */
  readonly connectionsMax?: number
}

export interface ResolvedFaults {
  latencyMs: number
  jitterMs: number
  dropRate: number
  duplicateRate: number
  reorderRate: number
  reorderDelayMsMax: number
}

export interface ResolvedNetworkOptions {
  readonly dialTimeoutMs: number
  readonly sendQueueMessagesMax: number
  readonly frameBytesMax: number
  readonly connectionsMax: number
}

export function resolveFaults(faults: NetworkFaults, base: ResolvedFaults): ResolvedFaults {
  return {
    latencyMs: checkNumber('latencyMs', faults.latencyMs ?? base.latencyMs),
    jitterMs: checkNumber('jitterMs', faults.jitterMs ?? base.jitterMs),
    dropRate: checkNumber('dropRate', faults.dropRate ?? base.dropRate, 0, 1),
    duplicateRate: checkNumber('duplicateRate', faults.duplicateRate ?? base.duplicateRate, 0, 1),
    reorderRate: checkNumber('reorderRate', faults.reorderRate ?? base.reorderRate, 0, 1),
    reorderDelayMsMax: checkNumber('reorderDelayMsMax', faults.reorderDelayMsMax ?? base.reorderDelayMsMax),
  }
}

export const DEFAULT_FAULTS: ResolvedFaults = Object.freeze({
  latencyMs: 1,
  jitterMs: 0,
  dropRate: 0,
  duplicateRate: 0,
  reorderRate: 0,
  reorderDelayMsMax: 10,
})

export function resolveNetworkOptions(options: SimNetworkOptions): ResolvedNetworkOptions {
  return {
    dialTimeoutMs: checkNumber('dialTimeoutMs', options.dialTimeoutMs ?? 1000),
    sendQueueMessagesMax: checkLimit('sendQueueMessagesMax', options.sendQueueMessagesMax ?? 1024),
    frameBytesMax: checkLimit('frameBytesMax', options.frameBytesMax ?? DEFAULT_LIMITS.frameBytesMax),
    connectionsMax: checkLimit('connectionsMax', options.connectionsMax ?? 1024),
  }
}

/** Counters over the whole network. */
export interface NetworkStats {
  /** Data messages accepted by `send`. */
  sent: number
  /** Data messages handed to a receiver (duplicates included). */
  delivered: number
  /** Data messages lost: drawn drops, partitions, closed or crashed receivers. */
  dropped: number
  /** Extra copies injected. */
  duplicated: number
  /** Messages that skipped the per-connection order. */
  reordered: number
  /** `send` calls refused with BACKPRESSURE. */
  backpressured: number
}
