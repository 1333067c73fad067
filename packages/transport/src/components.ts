import {
  SeededRandom,
  noopLogger,
  noopMetrics,
  systemClock,
  type Clock,
  type ConnectionUpgrader,
  type Logger,
  type Metrics,
  type NodeId,
  type Random,
} from '@socketcloud/core'
import { randomInt } from 'node:crypto'
import type { MemoryNetwork } from './drivers/mem'
import { defaultMemoryNetwork } from './drivers/mem'

/** What a transport is given rather than builds: identity, the upgrader, time, randomness, telemetry. */
export interface TransportComponents {
  /** This node's identity. */
  readonly localId: NodeId
  /**
   * Runs on every stream connection before any message: the Noise channel from
   * `@socketcloud/security` in production, `PlaintextUpgrader` only in tests and trusted setups.
   * Not used by UDP, which is unauthenticated at this layer.
   */
  readonly upgrader: ConnectionUpgrader
  /** @default systemClock */
  readonly clock?: Clock
  /** Reconnect jitter. @default a SeededRandom seeded from the OS */
  readonly random?: Random
  /** @default noopLogger */
  readonly logger?: Logger
  /** @default noopMetrics */
  readonly metrics?: Metrics
  /** Registry for `mem://` addresses. @default defaultMemoryNetwork (one per process) */
  readonly memoryNetwork?: MemoryNetwork
}

export interface ResolvedComponents {
  readonly localId: NodeId
  readonly upgrader: ConnectionUpgrader
  readonly clock: Clock
  readonly random: Random
  readonly logger: Logger
  readonly metrics: Metrics
  readonly memoryNetwork: MemoryNetwork
}

export function resolveComponents(components: TransportComponents, name: string): ResolvedComponents {
  return {
    localId: components.localId,
    upgrader: components.upgrader,
    clock: components.clock ?? systemClock,
    random: components.random ?? new SeededRandom(randomInt(0, 2 ** 32 - 1)),
    logger: (components.logger ?? noopLogger).child({
      component: name,
      node: components.localId.toShortString(),
    }),
    metrics: components.metrics ?? noopMetrics,
    memoryNetwork: components.memoryNetwork ?? defaultMemoryNetwork,
  }
}
