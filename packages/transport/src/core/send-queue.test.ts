/**
 * Goal: the send queue never grows past its byte or message limit, keeps order, and signals drain
 * exactly once after a refusal when it falls under half of both limits.
 */
import { describe, expect, it } from 'vitest'
import { SendQueue } from './send-queue'

describe('SendQueue', () => {
  it('refuses beyond the message limit and keeps order', () => {
    const queue = new SendQueue({ bytesMax: 1_000, messagesMax: 3 })
    expect(queue.offer(Uint8Array.of(1))).toBe(true)
    expect(queue.offer(Uint8Array.of(2))).toBe(true)
    expect(queue.offer(Uint8Array.of(3))).toBe(true)
    expect(queue.offer(Uint8Array.of(4))).toBe(false)
    expect(queue.take(1_000).map((frame) => frame[0])).toEqual([1, 2, 3])
  })

  it('refuses beyond the byte limit', () => {
    const queue = new SendQueue({ bytesMax: 10, messagesMax: 100 })
    expect(queue.offer(new Uint8Array(6))).toBe(true)
    expect(queue.offer(new Uint8Array(5))).toBe(false)
    expect(queue.offer(new Uint8Array(4))).toBe(true)
    expect(queue.bytes).toBe(10)
  })

  it('takes at least one frame even when it exceeds the budget, then respects the budget', () => {
    const queue = new SendQueue({ bytesMax: 100, messagesMax: 100 })
    queue.offer(new Uint8Array(50))
    queue.offer(new Uint8Array(10))
    queue.offer(new Uint8Array(10))
    expect(queue.take(5).map((frame) => frame.length)).toEqual([50])
    expect(queue.take(15).map((frame) => frame.length)).toEqual([10])
    expect(queue.length).toBe(1)
  })

  it('signals drain once, after a refusal, below half of the limits', () => {
    const queue = new SendQueue({ bytesMax: 100, messagesMax: 4 })
    for (let index = 0; index < 4; index++) queue.offer(new Uint8Array(10))
    expect(queue.takeDrainSignal()).toBe(false) // never refused
    expect(queue.offer(new Uint8Array(10))).toBe(false)
    queue.take(10)
    expect(queue.takeDrainSignal()).toBe(false) // 3 of 4 messages: above half
    queue.take(10)
    expect(queue.takeDrainSignal()).toBe(true)
    expect(queue.takeDrainSignal()).toBe(false)
  })

  it('stays correct across many offer/take cycles (compaction)', () => {
    const queue = new SendQueue({ bytesMax: 1_000_000, messagesMax: 10_000 })
    let next = 0
    let expected = 0
    for (let round = 0; round < 50; round++) {
      for (let index = 0; index < 100; index++) queue.offer(Uint8Array.of(next++ & 0xff))
      for (const frame of queue.take(70)) expect(frame[0]).toBe(expected++ & 0xff)
    }
    for (const frame of queue.take(Number.MAX_SAFE_INTEGER)) expect(frame[0]).toBe(expected++ & 0xff)
    expect(expected).toBe(next)
    expect(queue.bytes).toBe(0)
  })
})
