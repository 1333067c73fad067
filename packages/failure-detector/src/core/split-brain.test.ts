/**
 * Goal: each split-brain strategy keeps exactly one side of a clean partition up, follows its tie
 * rule, and the resolver waits for a stable view. Method: evaluate both sides' views of the same
 * partition for every way of splitting small clusters, and drive the resolver through time.
 */
import { ConfigError, NodeId } from '@socketcloud/core'
import { describe, expect, it } from 'vitest'
import { MemoryLease, SplitBrainResolver, decideWithoutLease, keepsMajority } from './split-brain'
import type { ResolverMember, ResolverView, SplitBrainStrategy } from './split-brain'

const members: ResolverMember[] = [5, 3, 9, 1, 7].map((n, index) => ({
  id: NodeId.fromHex(n.toString(16).padStart(2, '0').repeat(32)),
  upNumber: index,
}))

function viewOf(self: ResolverMember, side: readonly ResolverMember[], all = members): ResolverView {
  return { self: self.id, members: all, reachable: new Set(side.map((m) => m.id.hex)) }
}

/** Every split of `all` into two non-empty sides. */
function splits(all: readonly ResolverMember[]): Array<[ResolverMember[], ResolverMember[]]> {
  const result: Array<[ResolverMember[], ResolverMember[]]> = []
  for (let mask = 1; mask < (1 << all.length) - 1; mask++) {
    const left = all.filter((_, i) => mask & (1 << i))
    const right = all.filter((_, i) => !(mask & (1 << i)))
    result.push([left, right])
  }
  return result
}

describe('strategies never keep both sides of a partition up', () => {
  const strategies: Array<Exclude<SplitBrainStrategy, { kind: 'lease-majority' }>> = [
    { kind: 'keep-majority' },
    { kind: 'static-quorum', quorumSize: 3 },
    { kind: 'keep-oldest' },
    { kind: 'keep-oldest', downIfAlone: true },
  ]
  for (const strategy of strategies) {
    it(JSON.stringify(strategy), () => {
      for (const all of [members, members.slice(0, 4)]) {
        if (strategy.kind === 'static-quorum' && all.length !== 5) continue
        for (const [left, right] of splits(all)) {
          const leftUp = decideWithoutLease(viewOf(left[0]!, left, all), strategy) === 'up'
          const rightUp = decideWithoutLease(viewOf(right[0]!, right, all), strategy) === 'up'
          expect(leftUp && rightUp, `${left.length}|${right.length}`).toBe(false)
          if (strategy.kind !== 'static-quorum')
            expect(leftUp || rightUp, `${left.length}|${right.length}`).toBe(true)
        }
      }
    })
  }
})

describe('tie and age rules', () => {
  it('keep-majority keeps the half holding the lowest id', () => {
    const four = members.slice(0, 4) // ids 5, 3, 9, 1: lowest is 1
    const withLowest = [four[3]!, four[2]!]
    const without = [four[0]!, four[1]!]
    expect(keepsMajority(viewOf(withLowest[0]!, withLowest, four))).toBe(true)
    expect(keepsMajority(viewOf(without[0]!, without, four))).toBe(false)
  })

  it('keep-oldest keeps the side of the lowest upNumber; downIfAlone sacrifices a lone oldest', () => {
    const oldest = members[0]!
    const rest = members.slice(1)
    expect(decideWithoutLease(viewOf(oldest, [oldest]), { kind: 'keep-oldest' })).toBe('up')
    expect(decideWithoutLease(viewOf(rest[0]!, rest), { kind: 'keep-oldest' })).toBe('down')
    expect(decideWithoutLease(viewOf(oldest, [oldest]), { kind: 'keep-oldest', downIfAlone: true })).toBe(
      'down',
    )
    expect(decideWithoutLease(viewOf(rest[0]!, rest), { kind: 'keep-oldest', downIfAlone: true })).toBe('up')
  })

  it('everyone reachable is always up', () => {
    expect(decideWithoutLease(viewOf(members[0]!, members), { kind: 'static-quorum', quorumSize: 3 })).toBe(
      'up',
    )
  })
})

describe('SplitBrainResolver', () => {
  it('waits stableAfterMs of an unchanged view before deciding, and is up again once all are reachable', () => {
    const resolver = new SplitBrainResolver({ strategy: { kind: 'keep-majority' }, stableAfterMs: 1_000 }, 5)
    const minority = members.slice(0, 2)
    expect(resolver.evaluate(viewOf(minority[0]!, minority), 0)).toBe('up')
    expect(resolver.evaluate(viewOf(minority[0]!, minority), 999)).toBe('up')
    expect(resolver.evaluate(viewOf(minority[0]!, minority), 1_000)).toBe('down')
    expect(resolver.evaluate(viewOf(minority[0]!, members), 1_001)).toBe('up')
  })

  it('lease-majority: the majority takes the lease at once, the minority only after its delay and fails', () => {
    const lease = new MemoryLease(10_000)
    const strategy: SplitBrainStrategy = {
      kind: 'lease-majority',
      lease,
      acquireLeaseDelayForMinorityMs: 500,
    }
    const majority = members.slice(0, 3)
    const minority = members.slice(3)
    const onMajority = new SplitBrainResolver({ strategy, stableAfterMs: 100 }, 5)
    const onMinority = new SplitBrainResolver({ strategy, stableAfterMs: 100 }, 5)
    onMinority.evaluate(viewOf(minority[0]!, minority), 0)
    onMajority.evaluate(viewOf(majority[0]!, majority), 0)
    expect(onMinority.evaluate(viewOf(minority[0]!, minority), 100)).toBe('up') // still waiting
    expect(onMajority.evaluate(viewOf(majority[0]!, majority), 100)).toBe('up')
    expect(lease.owner).toBe([...majority].sort((x, y) => (x.id.hex < y.id.hex ? -1 : 1))[0]!.id.hex)
    expect(onMinority.evaluate(viewOf(minority[0]!, minority), 600)).toBe('down')
  })

  it('MemoryLease is exclusive until it expires and re-entrant for its owner', () => {
    const lease = new MemoryLease(1_000)
    const [x, y] = [members[0]!.id, members[1]!.id]
    expect(lease.tryAcquire(x, 0)).toBe(true)
    expect(lease.tryAcquire(y, 500)).toBe(false)
    expect(lease.tryAcquire(x, 900)).toBe(true) // renewed until 1 900
    expect(lease.tryAcquire(y, 1_899)).toBe(false)
    expect(lease.tryAcquire(y, 1_900)).toBe(true)
  })

  it('refuses a static quorum that both sides could reach', () => {
    expect(() => new SplitBrainResolver({ strategy: { kind: 'static-quorum', quorumSize: 2 } }, 4)).toThrow(
      ConfigError,
    )
  })
})
