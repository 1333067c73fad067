import { assert, checkLimit, checkNumber } from '@socketcloud/core'
import type { MemberUpdate } from './messages'

interface QueuedUpdate {
  readonly update: MemberUpdate
  transmits: number
  /** Insertion order; newer facts go out first among equally transmitted ones. */
  readonly order: number
}

/**
 * The membership changes waiting to be piggybacked on heartbeats, one per member (a newer fact about
 * a member replaces the older one). Each is sent at most `retransmitLimit(n)` = λ·⌈log10(n+1)⌉ times,
 * the bound under which SWIM's infection-style dissemination reaches every member with high
 * probability; the least-sent updates go first so a fresh change is never starved by old ones
 * (memberlist's TransmitLimitedQueue works the same way).
 */
export class GossipQueue {
  readonly retransmitMultiplier: number
  private readonly queued = new Map<string, QueuedUpdate>()
  private counter = 0

  constructor(retransmitMultiplier: number) {
    this.retransmitMultiplier = checkNumber('gossipRetransmitMultiplier', retransmitMultiplier, 1, 1000)
  }

  get size(): number {
    return this.queued.size
  }

  enqueue(update: MemberUpdate): void {
    this.queued.set(update.member.hex, { update, transmits: 0, order: this.counter++ })
  }

  retransmitLimit(memberCount: number): number {
    assert(memberCount >= 1, 'a view holds at least the local member')
    return Math.ceil(this.retransmitMultiplier * Math.ceil(Math.log10(memberCount + 1)))
  }

  /**
   * Takes up to `updatesMax` updates for one outgoing message, counting the transmission. `first`
   * (when given) is included ahead of the rest without being counted: it lets a member learn what we
   * believe about it, so it can refute a suspicion even after the gossip about it has run out.
   */
  take(updatesMax: number, memberCount: number, first?: MemberUpdate): MemberUpdate[] {
    checkLimit('piggybackUpdatesMax', updatesMax, 0)
    const selected: MemberUpdate[] = first ? [first] : []
    if (updatesMax === 0 || this.queued.size === 0) return selected.slice(0, updatesMax)
    const limit = this.retransmitLimit(memberCount)
    const candidates = [...this.queued.values()]
      .filter((entry) => entry.update.member.hex !== first?.member.hex)
      .sort((a, b) => a.transmits - b.transmits || b.order - a.order)
    for (const entry of candidates) {
      if (selected.length >= updatesMax) break
      selected.push(entry.update)
      entry.transmits += 1
      if (entry.transmits >= limit) this.queued.delete(entry.update.member.hex)
    }
    return selected
  }
}
