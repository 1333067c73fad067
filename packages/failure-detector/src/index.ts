/**
 * @packageDocumentation
 * Phi accrual failure detection, SWIM-style membership, partition and quorum decisions.
 *
 * - {@link PhiAccrualDetector}: Hayashibara et al.'s phi accrual detector with Akka/Pekko's semantics
 *   (and {@link ExponentialAccrualDetector}, Cassandra's exponential model).
 * - {@link Membership}: the pure protocol core — ping/ack heartbeats, phi per monitored peer, member
 *   states alive/suspect/dead/left with incarnations and refutation, gossip piggybacked on heartbeats,
 *   and split-brain resolution ({@link SplitBrainResolver}: keep-majority, static-quorum, keep-oldest,
 *   lease-majority).
 * - {@link FailureDetectorNode}: the driver that runs a Membership over a core `Transport` and `Clock`,
 *   with events and metrics.
 *
 * @example
 * ```ts
 * import { SeededRandom, systemClock } from '@socketcloud/core'
 * import { FailureDetectorNode } from '@socketcloud/failure-detector'
 *
 * const node = new FailureDetectorNode(
 *   { transport, clock: systemClock, random: new SeededRandom(seed), members: [a, b, c] },
 *   { heartbeatIntervalMs: 100, splitBrain: { strategy: { kind: 'keep-majority' } } },
 * )
 * node.events.on('status', ({ member, to }) => console.log(member.toShortString(), to))
 * node.events.on('decision', ({ decision }) => (decision === 'down' ? stopWrites() : resumeWrites()))
 * node.start()
 * ```
 */
export * from './core/phi'
export * from './core/exponential'
export * from './core/messages'
export { GossipQueue } from './core/gossip-queue'
export * from './core/membership'
export * from './core/split-brain'
export * from './driver'
