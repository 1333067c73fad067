import { ConfigError, checkLimit, checkNumber } from '@socketcloud/core'
import type { NodeId } from '@socketcloud/core'

/**
 * Split-brain resolution in the manner of Akka's Split Brain Resolver. Each node decides for itself,
 * from its own view, whether the side of a partition it sits on stays `up` or goes `down`; the
 * strategies are chosen so that, given the same member set, at most one side of a clean partition
 * stays up. A node that is `down` keeps running its failure detector, so when the partition heals and
 * every member is reachable again it comes back `up` with the merged view.
 */
export type Decision = 'up' | 'down'

/**
 * An exclusive, expiring lease (a Kubernetes Lease, an etcd key with a TTL, a database row). Pure
 * cores call it synchronously with the current time; a driver adapting an asynchronous lease caches
 * its last known holder and renews in the background.
 */
export interface Lease {
  /** Takes or renews the lease for `owner`; true when `owner` holds it afterwards. */
  tryAcquire(owner: NodeId, nowMs: number): boolean
}

export type SplitBrainStrategy =
  /** The side with more than half of the members stays up; on an exact half the side with the lowest member id does. */
  | { readonly kind: 'keep-majority' }
  /** A side stays up while it reaches at least `quorumSize` members (more than half of the configured set). */
  | { readonly kind: 'static-quorum'; readonly quorumSize: number }
  /**
   * The side holding the oldest member (lowest upNumber, then lowest id) stays up. With `downIfAlone`
   * an oldest member cut off on its own goes down instead and the other side stays up.
   */
  | { readonly kind: 'keep-oldest'; readonly downIfAlone?: boolean }
  /**
   * The side that acquires `lease` stays up. The side keep-majority would keep tries at once; the
   * other waits `acquireLeaseDelayForMinorityMs` first, so it only wins when the majority could not.
   */
  | {
      readonly kind: 'lease-majority'
      readonly lease: Lease
      readonly acquireLeaseDelayForMinorityMs?: number
    }

export interface ResolverMember {
  readonly id: NodeId
  readonly upNumber: number
}

/** This node's view: every member that has not left, and which of them it can reach (itself included). */
export interface ResolverView {
  readonly self: NodeId
  readonly members: readonly ResolverMember[]
  readonly reachable: ReadonlySet<string>
}

export interface SplitBrainResolverOptions {
  readonly strategy: SplitBrainStrategy
  /** How long the set of reachable members must stay unchanged before deciding. @default 1000 */
  readonly stableAfterMs?: number
}

export const DEFAULT_ACQUIRE_LEASE_DELAY_FOR_MINORITY_MS = 2000

/** Compares members by id, the order used for tie rules and side leaders. */
function lowestId(members: readonly ResolverMember[]): ResolverMember | undefined {
  let lowest: ResolverMember | undefined
  for (const member of members) if (!lowest || member.id.hex < lowest.id.hex) lowest = member
  return lowest
}

function oldest(members: readonly ResolverMember[]): ResolverMember | undefined {
  let found: ResolverMember | undefined
  for (const member of members) {
    if (
      !found ||
      member.upNumber < found.upNumber ||
      (member.upNumber === found.upNumber && member.id.hex < found.id.hex)
    )
      found = member
  }
  return found
}

/** Whether keep-majority keeps this node's side (tie rule included). */
export function keepsMajority(view: ResolverView): boolean {
  const total = view.members.length
  const reachable = view.members.filter((member) => view.reachable.has(member.id.hex)).length
  if (2 * reachable > total) return true
  if (2 * reachable < total) return false
  const lowest = lowestId(view.members)
  return lowest !== undefined && view.reachable.has(lowest.id.hex)
}

/** The decision of a strategy that needs no lease (lease-majority is handled by the resolver). */
export function decideWithoutLease(
  view: ResolverView,
  strategy: Exclude<SplitBrainStrategy, { kind: 'lease-majority' }>,
): Decision {
  const reachable = view.members.filter((member) => view.reachable.has(member.id.hex))
  if (reachable.length === view.members.length) return 'up'
  switch (strategy.kind) {
    case 'keep-majority':
      return keepsMajority(view) ? 'up' : 'down'
    case 'static-quorum':
      return reachable.length >= strategy.quorumSize ? 'up' : 'down'
    case 'keep-oldest': {
      const eldest = oldest(view.members)
      if (!eldest) return 'down'
      const unreachableCount = view.members.length - reachable.length
      if (view.reachable.has(eldest.id.hex)) {
        const alone = reachable.length === 1 && view.members.length > 1
        return strategy.downIfAlone && alone ? 'down' : 'up'
      }
      // The oldest is on the other side. If it is the only member we cannot reach, it is alone there.
      return strategy.downIfAlone && unreachableCount === 1 ? 'up' : 'down'
    }
  }
}

/**
 * Stateful resolver: waits for the reachable set to be stable for `stableAfterMs`, then applies the
 * strategy. When every member is reachable again the decision is `up` immediately.
 */
export class SplitBrainResolver {
  readonly strategy: SplitBrainStrategy
  readonly stableAfterMs: number
  private signature = ''
  private stableSinceMs = 0
  private current: Decision = 'up'

  constructor(options: SplitBrainResolverOptions, initialMemberCount: number) {
    this.strategy = options.strategy
    this.stableAfterMs = checkNumber('stableAfterMs', options.stableAfterMs ?? 1000)
    const strategy = options.strategy
    if (strategy.kind === 'static-quorum') {
      checkLimit('quorumSize', strategy.quorumSize)
      if (2 * strategy.quorumSize <= initialMemberCount) {
        throw new ConfigError(
          `quorumSize ${strategy.quorumSize} is not more than half of ${initialMemberCount} members: both sides of a split could stay up`,
          { option: 'quorumSize', value: strategy.quorumSize, members: initialMemberCount },
        )
      }
    }
    if (strategy.kind === 'lease-majority') {
      checkNumber(
        'acquireLeaseDelayForMinorityMs',
        strategy.acquireLeaseDelayForMinorityMs ?? DEFAULT_ACQUIRE_LEASE_DELAY_FOR_MINORITY_MS,
      )
    }
  }

  get decision(): Decision {
    return this.current
  }

  /** Re-evaluates with this node's current view; returns the (possibly unchanged) decision. */
  evaluate(view: ResolverView, nowMs: number): Decision {
    const reachableMembers = view.members.filter((member) => view.reachable.has(member.id.hex))
    const signature = reachableMembers
      .map((member) => member.id.hex)
      .sort()
      .join(',')
    if (signature !== this.signature) {
      this.signature = signature
      this.stableSinceMs = nowMs
    }
    if (reachableMembers.length === view.members.length) {
      this.current = 'up'
      return this.current
    }
    const stableForMs = nowMs - this.stableSinceMs
    if (stableForMs < this.stableAfterMs) return this.current
    const strategy = this.strategy
    if (strategy.kind !== 'lease-majority') {
      this.current = decideWithoutLease(view, strategy)
      return this.current
    }
    const majority = keepsMajority(view)
    const delayMs = majority
      ? 0
      : (strategy.acquireLeaseDelayForMinorityMs ?? DEFAULT_ACQUIRE_LEASE_DELAY_FOR_MINORITY_MS)
    if (stableForMs < this.stableAfterMs + delayMs) return this.current
    // The lease is taken in the name of the side's lowest member, so every node on one side asks
    // for the same owner and they all get the same answer.
    const sideLeader = lowestId(reachableMembers)
    this.current = sideLeader && strategy.lease.tryAcquire(sideLeader.id, nowMs) ? 'up' : 'down'
    return this.current
  }
}

/**
 * An in-process lease with a time-to-live, for tests, simulations and single-host deployments where
 * every node shares one object. Re-entrant for its current owner; free again once expired.
 */
export class MemoryLease implements Lease {
  readonly ttlMs: number
  private ownerHex: string | undefined
  private expiresAtMs = Number.NEGATIVE_INFINITY

  constructor(ttlMs: number) {
    this.ttlMs = checkNumber('ttlMs', ttlMs, Number.MIN_VALUE)
  }

  get owner(): string | undefined {
    return this.ownerHex
  }

  tryAcquire(owner: NodeId, nowMs: number): boolean {
    if (this.ownerHex !== undefined && this.ownerHex !== owner.hex && nowMs < this.expiresAtMs) return false
    this.ownerHex = owner.hex
    this.expiresAtMs = nowMs + this.ttlMs
    return true
  }
}
