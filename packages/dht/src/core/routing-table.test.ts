// Goal: k-buckets keep long-lived contacts: a newcomer to a full bucket only gets in when the least
// recently seen contact fails a ping; `closest` returns exactly the k nearest. Method: a table over
// hand-made ids in one bucket, and a property check of `closest` against a full sort.
import fc from 'fast-check'
import { NodeId } from '@socketcloud/core'
import { describe, expect, it } from 'vitest'
import type { Contact } from './contact'
import { compareDistance } from './distance'
import { RoutingTable } from './routing-table'

const local = NodeId.fromBytes(new Uint8Array(32))

/** An id in bucket 0 (first bit set) with `n` in its last bytes. */
function far(n: number): Contact {
  const bytes = new Uint8Array(32)
  bytes[0] = 0x80
  bytes[30] = n >> 8
  bytes[31] = n & 0xff
  return { id: NodeId.fromBytes(bytes), addresses: [`mem://n${n}`] }
}

describe('RoutingTable', () => {
  it('caches a newcomer to a full bucket and pings the least recently seen contact', () => {
    const table = new RoutingTable(local, 3, 2, 2, 0)
    expect([1, 2, 3].map((n) => table.observe(far(n), n).kind)).toEqual(['added', 'added', 'added'])
    const outcome = table.observe(far(4), 10)
    expect(outcome).toEqual({ kind: 'cached', pingTarget: far(1) })
    // Only one eviction ping per bucket at a time.
    expect(table.observe(far(5), 11)).toEqual({ kind: 'cached', pingTarget: undefined })
    table.evictionPingSettled(far(1).id, true, 12)
    expect(table.has(far(1).id)).toBe(true)
    expect(table.has(far(4).id)).toBe(false)
    // The answered contact moved to the tail; the next candidate for eviction is contact 2.
    expect(table.observe(far(6), 13)).toEqual({ kind: 'cached', pingTarget: far(2) })
    table.evictionPingSettled(far(2).id, false, 14)
    expect(table.has(far(2).id)).toBe(false)
    expect(table.has(far(6).id)).toBe(true) // the newest replacement was promoted
    expect(table.size).toBe(3)
  })

  it('does not ping a head heard from within contactFreshMs (no ping cascades)', () => {
    const table = new RoutingTable(local, 2, 2, 2, 0, 1000)
    table.observe(far(1), 0)
    table.observe(far(2), 0)
    expect(table.observe(far(3), 999)).toEqual({ kind: 'cached', pingTarget: undefined })
    expect(table.observe(far(4), 1000)).toEqual({ kind: 'cached', pingTarget: far(1) })
  })

  it('drops a contact after repeated failures, or at once when a replacement waits', () => {
    const table = new RoutingTable(local, 2, 2, 2, 0)
    table.observe(far(1), 0)
    table.observe(far(2), 0)
    expect(table.recordFailure(far(1).id)).toBe(false)
    expect(table.recordFailure(far(1).id)).toBe(true)
    expect(table.has(far(1).id)).toBe(false)
    table.observe(far(3), 1)
    table.observe(far(4), 2) // full: 4 waits as a replacement
    expect(table.recordFailure(far(2).id)).toBe(true)
    expect(table.has(far(4).id)).toBe(true)
  })

  it('any valid message resets the failure count', () => {
    const table = new RoutingTable(local, 2, 0, 2, 0)
    table.observe(far(1), 0)
    table.recordFailure(far(1).id)
    table.observe(far(1), 1)
    expect(table.recordFailure(far(1).id)).toBe(false)
  })

  it('closest() returns the same contacts as sorting the whole table (property)', () => {
    const idArbitrary = fc.uint8Array({ minLength: 32, maxLength: 32 })
    fc.assert(
      fc.property(
        idArbitrary,
        idArbitrary,
        fc.array(idArbitrary, { maxLength: 120 }),
        fc.integer({ min: 1, max: 30 }),
        (localBytes, target, ids, count) => {
          const table = new RoutingTable(NodeId.fromBytes(localBytes), 20, 0, 2, 0)
          for (const bytes of ids) table.observe({ id: NodeId.fromBytes(bytes), addresses: ['mem://x'] }, 0)
          const all = table.contacts().sort((a, b) => compareDistance(target, a.id.bytes, b.id.bytes))
          expect(table.closest(target, count).map((c) => c.id.hex)).toEqual(
            all.slice(0, count).map((c) => c.id.hex),
          )
        },
      ),
      { numRuns: 200 },
    )
  })

  it('never adds itself', () => {
    const table = new RoutingTable(local, 2, 0, 2, 0)
    expect(table.observe({ id: local, addresses: ['mem://me'] }, 0).kind).toBe('self')
    expect(table.size).toBe(0)
  })

  it("traffic from a node in a bucket's range resets that bucket's refresh clock, contact or not", () => {
    const table = new RoutingTable(local, 3, 2, 2, -500)
    table.observe(far(1), 0)
    const near = new Uint8Array(32)
    near[0] = 0x40
    table.observe({ id: NodeId.fromBytes(near), addresses: ['mem://near'] }, 0)
    expect(table.bucketStates().map((bucket) => bucket.lastActiveMs)).toEqual([-500, -500])
    // far(99) is not in the table (and does not become a contact): its traffic still counts.
    table.markTraffic(far(99).id, 700)
    expect(table.has(far(99).id)).toBe(false)
    expect(table.bucketStates().map((bucket) => bucket.lastActiveMs)).toEqual([700, -500])
    table.markLookup(near, 800)
    expect(table.bucketStates().map((bucket) => bucket.lastActiveMs)).toEqual([700, 800])
  })

  it('refresh treats the deepest buckets holding at most k contacts as one range', () => {
    const table = new RoutingTable(local, 3, 2, 2, 0)
    const inBucket = (bucket: number, n: number): Contact => {
      const bytes = new Uint8Array(32)
      bytes[0] = 0x80 >>> bucket
      bytes[31] = n
      return { id: NodeId.fromBytes(bytes), addresses: [`mem://b${bucket}n${n}`] }
    }
    for (const contact of [inBucket(0, 1), inBucket(0, 2), inBucket(0, 3), inBucket(1, 4), inBucket(3, 5)]) {
      table.observe(contact, 0)
    }
    expect(table.bucketStates().map((state) => state.size)).toEqual([3, 1, 0, 1])
    // Buckets 1–3 hold 2 ≤ k contacts: one range, as the paper's bucket around our own id.
    expect(table.refreshStates()).toEqual([
      { index: 0, size: 3, lastActiveMs: 0 },
      { index: 1, size: 2, lastActiveMs: 0 },
    ])
    // Traffic from any bucket of the range counts for all of it.
    table.markTraffic(inBucket(3, 9).id, 500)
    expect(table.refreshStates().map((state) => state.lastActiveMs)).toEqual([0, 500])
    table.observe(inBucket(2, 6), 600)
    table.observe(inBucket(2, 7), 600)
    // Now buckets 1–3 hold 4 > k: the range shrinks to buckets 2–3 (3 contacts), bucket 1 stands alone.
    expect(table.refreshStates().map((state) => [state.index, state.size])).toEqual([
      [0, 3],
      [1, 1],
      [2, 3],
    ])
  })
})
