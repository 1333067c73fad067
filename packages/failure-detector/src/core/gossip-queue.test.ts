/**
 * Goal: the gossip queue bounds how often each change is sent (λ·⌈log10(n+1)⌉), keeps one fact per
 * member, and never starves a fresh change behind old ones. Method: enqueue and take by hand.
 */
import { NodeId } from '@socketcloud/core'
import { describe, expect, it } from 'vitest'
import { GossipQueue } from './gossip-queue'
import type { MemberUpdate } from './messages'

const id = (n: number) => NodeId.fromHex(n.toString(16).padStart(2, '0').repeat(32))
const fact = (n: number, incarnation = 0): MemberUpdate => ({
  member: id(n),
  status: 'suspect',
  incarnation,
  upNumber: n,
})

describe('GossipQueue', () => {
  it('sends each update λ·⌈log10(n+1)⌉ times, then drops it', () => {
    const queue = new GossipQueue(4)
    expect(queue.retransmitLimit(5)).toBe(4)
    expect(queue.retransmitLimit(1_000)).toBe(16)
    queue.enqueue(fact(1))
    let sent = 0
    while (queue.take(16, 5).length > 0) sent++
    expect(sent).toBe(4)
    expect(queue.size).toBe(0)
  })

  it('keeps the newest fact per member and sends the least-sent, newest first', () => {
    const queue = new GossipQueue(4)
    queue.enqueue(fact(1))
    queue.enqueue(fact(2))
    expect(queue.take(1, 5).map((u) => u.member.hex)).toEqual([id(2).hex])
    expect(queue.take(1, 5).map((u) => u.member.hex)).toEqual([id(1).hex])
    queue.enqueue(fact(1, 3)) // replaces the older fact about member 1, with a fresh count
    expect(queue.size).toBe(2)
    expect(queue.take(1, 5)).toEqual([fact(1, 3)])
  })

  it('puts an uncounted fact about the target first and respects the size limit', () => {
    const queue = new GossipQueue(1)
    queue.enqueue(fact(1))
    queue.enqueue(fact(2))
    const taken = queue.take(2, 5, fact(9))
    expect(taken.map((u) => u.member.hex)).toEqual([id(9).hex, id(2).hex])
    expect(queue.take(0, 5)).toEqual([])
  })
})
