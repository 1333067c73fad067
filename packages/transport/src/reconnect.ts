import type { Emitter, NodeId, TransportEvents } from '@socketcloud/core'
import { backoffDelayMs } from './core/backoff'
import type { ResolvedComponents } from './components'
import type { TransportMetrics } from './metrics'
import type { TransportOptions } from './options'

/** A peer this transport dialed and keeps re-dialing after its connection drops. */
export interface ReconnectIntent {
  readonly id: NodeId
  attempt: number
}

/**
 * Counts the next reconnect attempt of `intent` and returns its backoff delay (exponential, full
 * jitter), announcing it with `peer:reconnecting`; returns undefined once `reconnectAttemptsMax` is
 * spent, after logging that the transport gives up. Shared by the stream manager and UDP.
 */
export function planReconnect(
  intent: ReconnectIntent,
  options: TransportOptions,
  components: ResolvedComponents,
  metrics: TransportMetrics,
  events: Emitter<TransportEvents>,
): number | undefined {
  intent.attempt++
  if (intent.attempt > options.reconnectAttemptsMax) {
    components.logger.warn(
      { peer: intent.id.toShortString(), attempts: intent.attempt - 1 },
      'giving up reconnecting',
    )
    return undefined
  }
  const delayMs = backoffDelayMs(
    { delayInitialMs: options.reconnectDelayInitialMs, delayMaxMs: options.reconnectDelayMaxMs },
    intent.attempt,
    components.random,
  )
  metrics.reconnectAttempts.inc()
  events.emit('peer:reconnecting', { peer: intent.id, attempt: intent.attempt, delayMs })
  return delayMs
}
