import type { Random } from '@socketcloud/core'
import type { Contact } from '../core/contact'
import { compareDistance } from '../core/distance'
import type { DhtNode } from '../dht-node'

/**
 * Fills each node's buckets as a long-running network would: bucket b of node x covers the ids that
 * share exactly b leading bits with x, which is one contiguous run of the ids sorted by value; up to
 * k of them are drawn at random (all of them when fewer). Contacts enter through the public
 * `addContacts`, exactly as a configured peer would. For simulations and benchmarks of large
 * networks, where joining 10,000 nodes one by one would take longer than what is measured;
 * `addresses[i]` is the address of `nodes[i]`.
 */
export function fillSteadyStateTables(
  nodes: readonly DhtNode[],
  addresses: readonly string[],
  k: number,
  random: Random,
): void {
  const zero = new Uint8Array(32)
  const contacts: Contact[] = nodes.map((node, i) => ({ id: node.localId, addresses: [addresses[i]!] }))
  const sorted = [...contacts].sort((a, b) => compareDistance(zero, a.id.bytes, b.id.bytes))
  const bitAt = (bytes: Uint8Array, bit: number): number => (bytes[bit >>> 3]! >>> (7 - (bit & 7))) & 1
  /** Index of the first id in `sorted` not below `probe`. */
  const lowerBound = (probe: Uint8Array, inclusive: boolean): number => {
    let low = 0
    let high = sorted.length
    while (low < high) {
      const middle = (low + high) >>> 1
      const order = compareDistance(zero, sorted[middle]!.id.bytes, probe)
      if (order < 0 || (inclusive && order === 0)) low = middle + 1
      else high = middle
    }
    return low
  }
  /** [first, end) of the ids whose first `length` bits equal x's, the last of them flipped when asked. */
  const prefixRange = (x: Uint8Array, length: number, flipLast: boolean): [number, number] => {
    const low = new Uint8Array(32)
    const high = new Uint8Array(32).fill(0xff)
    for (let bit = 0; bit < length; bit++) {
      const value = bit === length - 1 && flipLast ? 1 - bitAt(x, bit) : bitAt(x, bit)
      const mask = 0x80 >>> (bit & 7)
      if (value) low[bit >>> 3]! |= mask
      else high[bit >>> 3]! &= ~mask & 0xff
    }
    return [lowerBound(low, false), lowerBound(high, true)]
  }
  nodes.forEach((node, index) => {
    const x = node.localId.bytes
    const chosen: Contact[] = []
    for (let b = 0; b < 256; b++) {
      const [ownFirst, ownEnd] = prefixRange(x, b, false)
      if (ownEnd - ownFirst <= 1) break // only x itself shares these b bits: no deeper bucket has anyone
      const [first, end] = prefixRange(x, b + 1, true)
      const size = end - first
      if (size <= k) {
        for (let i = first; i < end; i++) chosen.push(sorted[i]!)
        continue
      }
      const picked = new Set<number>()
      while (picked.size < k) picked.add(first + random.nextInt(size))
      for (const i of picked) chosen.push(sorted[i]!)
    }
    node.addContacts(chosen.filter((contact) => contact !== contacts[index]))
  })
}
