import { describe, expect, it } from 'vitest'
import { SessionTable } from './session-table'

// Goal: a command retried under the same session and sequence number applies once and returns the
// first result; expiry and eviction follow log time only. Method: drive the table directly.
const limits = { sessionsMax: 3, sessionResponsesMax: 4, sessionExpiryMs: 1_000 }
const bytes = (value: number): Uint8Array => Uint8Array.of(value)

describe('SessionTable', () => {
  it('applies a sequence number once and answers its retry with the first result', () => {
    const table = new SessionTable(limits)
    table.register('7', 0)
    let runs = 0
    const execute = (): Uint8Array => bytes(++runs)
    expect(table.apply('7', 1, 1, 10, execute)).toEqual({ kind: 'applied', result: bytes(1) })
    expect(table.apply('7', 1, 1, 20, execute)).toEqual({ kind: 'duplicate', result: bytes(1) })
    expect(runs).toBe(1)
  })

  it('forgets acknowledged responses and refuses their sequence numbers afterwards', () => {
    const table = new SessionTable(limits)
    table.register('7', 0)
    table.apply('7', 1, 1, 1, () => bytes(1))
    table.apply('7', 2, 2, 2, () => bytes(2))
    expect(table.apply('7', 1, 2, 3, () => bytes(9))).toEqual({ kind: 'acknowledged' })
  })

  it('refuses a command when the session holds too many unacknowledged responses', () => {
    const table = new SessionTable(limits)
    table.register('7', 0)
    for (let sequence = 1; sequence <= 4; sequence++) table.apply('7', sequence, 1, 1, () => bytes(sequence))
    expect(table.apply('7', 5, 1, 1, () => bytes(5))).toEqual({ kind: 'responses-full' })
    expect(table.apply('7', 5, 3, 1, () => bytes(5))).toEqual({ kind: 'applied', result: bytes(5) })
  })

  it('expires idle sessions by log time and evicts the least recently active beyond sessionsMax', () => {
    const table = new SessionTable(limits)
    table.register('a', 0)
    table.register('b', 100)
    table.register('c', 200)
    table.apply('a', 1, 1, 300, () => bytes(1))
    table.register('d', 400) // evicts b, the least recently active
    expect(table.has('b')).toBe(false)
    expect(table.has('a')).toBe(true)
    expect(table.apply('c', 1, 1, 1_250, () => bytes(1))).toEqual({ kind: 'expired' })
    expect(table.has('a')).toBe(true)
    table.expire(1_350)
    expect(table.has('a')).toBe(false)
    expect(table.has('d')).toBe(true)
  })

  it('round-trips through records in activity order', () => {
    const table = new SessionTable(limits)
    table.register('a', 0)
    table.register('b', 5)
    table.apply('a', 1, 1, 10, () => bytes(42))
    const copy = new SessionTable(limits)
    copy.restore(table.toRecords())
    expect(copy.toRecords()).toEqual(table.toRecords())
    expect(copy.apply('a', 1, 1, 11, () => bytes(0))).toEqual({ kind: 'duplicate', result: bytes(42) })
  })
})
