import {
  Codec,
  DecodeError,
  Emitter,
  checkNumber,
  every,
  noopLogger,
  noopMetrics,
  toError,
} from '@socketcloud/core'
import type {
  Clock,
  Counter,
  Gauge,
  Histogram,
  Logger,
  Metrics,
  NodeId,
  Random,
  TimerHandle,
  Transport,
  TransportEvents,
} from '@socketcloud/core'
import { decodeMembershipMessage, encodeMembershipMessage } from './core/messages'
import { Membership } from './core/membership'
import type { MembershipEvent, MembershipInit, MembershipOutput, RefusalReason } from './core/membership'
import type { MemberStatus } from './core/messages'
import type { HealthLevel } from './core/phi'
import type { Decision } from './core/split-brain'

export interface FailureDetectorComponents {
  readonly transport: Transport
  /** `systemClock` in production, the simulator's virtual clock in tests. */
  readonly clock: Clock
  readonly random: Random
  /** The configured member set (see MembershipComponents.members). */
  readonly members: readonly NodeId[]
  readonly metrics?: Metrics
  readonly logger?: Logger
  readonly codec?: Codec
}

export interface FailureDetectorInit extends MembershipInit {
  /** How often the core is ticked; bounds how late a phi crossing is noticed. @default heartbeatIntervalMs / 5 */
  readonly tickIntervalMs?: number
}

export type DriverRefusalReason = RefusalReason | DecodeError['code'] | 'SENDER_MISMATCH'

export interface FailureDetectorEvents {
  /** A monitored peer's health level changed (phi crossed a threshold). */
  level: {
    readonly peer: NodeId
    readonly from: HealthLevel
    readonly to: HealthLevel
    readonly phi: number
    readonly silentForMs: number
  }
  /** A member's status changed in this node's view. */
  status: {
    readonly member: NodeId
    readonly from: MemberStatus | undefined
    readonly to: MemberStatus
    readonly incarnation: number
  }
  /** The split-brain decision for this node changed: `down` means stop acting as part of the cluster. */
  decision: { readonly decision: Decision }
  /** A message was refused at the boundary and dropped; the sender's other messages are still served. */
  refused: { readonly from: NodeId; readonly reason: DriverRefusalReason; readonly error?: Error }
}

interface DriverMetrics {
  readonly phi: Gauge
  readonly statusChanges: Counter
  readonly levelChanges: Counter
  readonly silenceBeforeFailed: Histogram
  readonly refused: Counter
  readonly sendFailures: Counter
  readonly messages: Counter
  readonly up: Gauge
}

function createMetrics(metrics: Metrics): DriverMetrics {
  return {
    phi: metrics.gauge({
      name: 'socketcloud_failure_detector_phi',
      help: 'Current phi of each monitored peer',
      labelNames: ['peer'],
    }),
    statusChanges: metrics.counter({
      name: 'socketcloud_failure_detector_status_changes_total',
      help: 'Member status changes in this view, by new status',
      labelNames: ['to'],
    }),
    levelChanges: metrics.counter({
      name: 'socketcloud_failure_detector_level_changes_total',
      help: 'Health level changes of monitored peers, by new level',
      labelNames: ['to'],
    }),
    silenceBeforeFailed: metrics.histogram({
      name: 'socketcloud_failure_detector_silence_before_failed_ms',
      help: 'Time from the last heartbeat of a peer to its detector reporting failed',
      buckets: [100, 250, 500, 750, 1000, 2000, 5000, 10000],
    }),
    refused: metrics.counter({
      name: 'socketcloud_failure_detector_refused_total',
      help: 'Inbound messages refused at the boundary, by reason',
      labelNames: ['reason'],
    }),
    sendFailures: metrics.counter({
      name: 'socketcloud_failure_detector_send_failures_total',
      help: 'Messages the transport would not take, by error code',
      labelNames: ['code'],
    }),
    messages: metrics.counter({
      name: 'socketcloud_failure_detector_messages_total',
      help: 'Membership messages sent and received',
      labelNames: ['direction'],
    }),
    up: metrics.gauge({
      name: 'socketcloud_failure_detector_up',
      help: '1 while the split-brain decision is up, 0 while down',
    }),
  }
}

/**
 * Runs a {@link Membership} core over a real (or simulated) `Transport` and `Clock`: decodes and
 * validates inbound messages, ticks the core, sends what it returns and turns its events into
 * `events` and metrics. Peers must already be dialled (or reachable by the transport's reconnects);
 * a send the transport refuses is counted and treated like a lost heartbeat.
 */
export class FailureDetectorNode {
  readonly events = new Emitter<FailureDetectorEvents>()
  readonly membership: Membership
  readonly tickIntervalMs: number
  private readonly transport: Transport
  private readonly clock: Clock
  private readonly codec: Codec
  private readonly logger: Logger
  private readonly metrics: DriverMetrics
  private timer: TimerHandle | undefined
  private unsubscribe: (() => void) | undefined

  constructor(components: FailureDetectorComponents, init: FailureDetectorInit = {}) {
    this.transport = components.transport
    this.clock = components.clock
    this.codec = components.codec ?? new Codec()
    this.logger = (components.logger ?? noopLogger).child({ component: 'failure-detector' })
    this.metrics = createMetrics(components.metrics ?? noopMetrics)
    this.membership = new Membership(
      { localId: components.transport.localId, random: components.random, members: components.members },
      init,
    )
    this.tickIntervalMs = checkNumber(
      'tickIntervalMs',
      init.tickIntervalMs ?? this.membership.heartbeatIntervalMs / 5,
      1,
    )
  }

  get running(): boolean {
    return this.timer !== undefined
  }

  start(): void {
    if (this.timer) return
    this.unsubscribe = this.transport.events.on('message', (message) => this.receive(message))
    this.timer = every(this.clock, this.tickIntervalMs, () => this.tick())
    this.tick()
  }

  /** Stops ticking and listening; the transport stays open (it is not ours). */
  stop(): void {
    this.timer?.cancel()
    this.timer = undefined
    this.unsubscribe?.()
    this.unsubscribe = undefined
  }

  /** Leaves gracefully, then stops. */
  leave(): void {
    this.execute(this.membership.leave())
    this.stop()
  }

  private tick(): void {
    const now = this.clock.now()
    this.execute(this.membership.tick(now))
    for (const peer of this.membership.monitoredPeers()) {
      this.metrics.phi.set({ peer: peer.toShortString() }, this.membership.phi(peer, now) ?? 0)
    }
  }

  private receive({ from, bytes }: TransportEvents['message']): void {
    let decoded
    try {
      decoded = decodeMembershipMessage(this.codec, bytes)
    } catch (thrown) {
      const error = toError(thrown)
      if (!(error instanceof DecodeError)) throw error
      // Other protocols share the transport; their messages are not ours to count as refused.
      if (error.code === 'UNKNOWN_TYPE' && !isFailureDetectorType(error.context['type'])) return
      this.refuse(from, error.code, error)
      return
    }
    if (!decoded.sender.equals(from)) {
      this.refuse(from, 'SENDER_MISMATCH')
      return
    }
    this.metrics.messages.inc({ direction: 'in' })
    this.execute(this.membership.step(from, decoded.message, this.clock.now()))
  }

  private execute(output: MembershipOutput): void {
    for (const { to, message } of output.messages) {
      const result = this.transport.send(
        to,
        encodeMembershipMessage(this.codec, this.transport.localId, message),
      )
      if (result.ok) this.metrics.messages.inc({ direction: 'out' })
      else this.metrics.sendFailures.inc({ code: result.error.code })
    }
    for (const event of output.events) this.report(event)
  }

  private report(event: MembershipEvent): void {
    switch (event.type) {
      case 'level':
        this.metrics.levelChanges.inc({ to: event.to })
        if (event.to === 'failed') {
          this.metrics.silenceBeforeFailed.observe({}, event.silentForMs)
          this.logger.warn(
            { peer: event.peer.toShortString(), phi: event.phi, silentForMs: event.silentForMs },
            'peer failed',
          )
        }
        this.events.emit('level', event)
        return
      case 'status':
        this.metrics.statusChanges.inc({ to: event.to })
        this.logger.info(
          {
            member: event.member.toShortString(),
            from: event.from,
            to: event.to,
            incarnation: event.incarnation,
          },
          'member status changed',
        )
        this.events.emit('status', event)
        return
      case 'decision':
        this.metrics.up.set({}, event.decision === 'up' ? 1 : 0)
        this.logger.warn({ decision: event.decision }, 'split-brain decision changed')
        this.events.emit('decision', { decision: event.decision })
        return
      case 'refused':
        this.refuse(event.from, event.reason)
        return
    }
  }

  private refuse(from: NodeId, reason: DriverRefusalReason, error?: Error): void {
    this.metrics.refused.inc({ reason })
    this.logger.debug({ from: from.toShortString(), reason, error: error?.message }, 'message refused')
    this.events.emit('refused', error ? { from, reason, error } : { from, reason })
  }
}

function isFailureDetectorType(type: unknown): boolean {
  return typeof type === 'string' && type.startsWith('fd.')
}
