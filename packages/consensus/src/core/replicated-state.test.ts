import { BytesInParts, Codec, DecodeError, type LogEntry, type StateMachine } from '@socketcloud/core'
import { describe, expect, it } from 'vitest'
import { encodeEntryEnvelope, type EntryEnvelope } from './entry-envelope'
import { ReplicatedState } from './replicated-state'

// Goal: the apply path is deterministic, applies a retried command once, stamps the log clock, and
// survives a snapshot round trip. Method: a counter machine and hand-built entries.
const codec = new Codec()
const options = {
  codec,
  proposalBytesMax: 1024,
  snapshotBytesMax: 1 << 20,
  sessionsMax: 10,
  sessionResponsesMax: 10,
  sessionExpiryMs: 60_000,
}

class CounterMachine implements StateMachine {
  total = 0
  lastTimestampMs = 0
  apply(command: Uint8Array, context: { timestampMs: number }): Uint8Array {
    this.total += command[0] ?? 0
    this.lastTimestampMs = context.timestampMs
    return Uint8Array.of(this.total)
  }
  query(): Uint8Array {
    return Uint8Array.of(this.total)
  }
  snapshot(): Uint8Array {
    return Uint8Array.of(this.total)
  }
  restore(snapshot: Uint8Array): void {
    this.total = snapshot[0] ?? 0
  }
}

function entry(index: number, fields: Partial<EntryEnvelope>): LogEntry {
  const envelope: EntryEnvelope = {
    operation: 'command',
    proposer: 'node-a',
    requestId: index,
    timestampMs: 1_000,
    sessionId: '1',
    sequence: 1,
    acknowledgedBelow: 1,
    payload: Uint8Array.of(1),
    ...fields,
  }
  return { index, term: 1, kind: 'command', data: encodeEntryEnvelope(codec, envelope) }
}

const register = (index: number, timestampMs = 1_000): LogEntry =>
  entry(index, { operation: 'register', sessionId: '', sequence: 0, payload: new Uint8Array(0), timestampMs })

describe('ReplicatedState', () => {
  it('registers a session at the entry index and applies a duplicate command once', () => {
    const machine = new CounterMachine()
    const state = new ReplicatedState(machine, options)
    expect(state.apply(register(1))).toMatchObject({ kind: 'registered', sessionId: '1' })
    expect(state.apply(entry(2, { sequence: 1, payload: Uint8Array.of(5) }))).toMatchObject({
      kind: 'result',
      result: Uint8Array.of(5),
    })
    expect(state.apply(entry(3, { sequence: 1, payload: Uint8Array.of(5) }))).toMatchObject({
      kind: 'result',
      result: Uint8Array.of(5),
    })
    expect(machine.total).toBe(5)
  })

  it('refuses a command of an unknown session without touching the machine', () => {
    const machine = new CounterMachine()
    const state = new ReplicatedState(machine, options)
    expect(state.apply(entry(1, { sessionId: '99' }))).toMatchObject({
      kind: 'rejected',
      reason: 'session-expired',
    })
    expect(machine.total).toBe(0)
  })

  it('applies a malformed entry as a no-op and reports it', () => {
    const machine = new CounterMachine()
    const state = new ReplicatedState(machine, options)
    const outcome = state.apply({ index: 1, term: 1, kind: 'command', data: Uint8Array.of(0xc1) })
    expect(outcome.kind).toBe('malformed')
    expect(outcome.kind === 'malformed' && outcome.error).toBeInstanceOf(DecodeError)
    expect(state.appliedIndex).toBe(1)
    expect(machine.total).toBe(0)
  })

  it('keeps the log clock monotonic when a new leader proposes an earlier time', () => {
    const machine = new CounterMachine()
    const state = new ReplicatedState(machine, options)
    state.apply(register(1, 5_000))
    state.apply(entry(2, { timestampMs: 4_000 }))
    expect(machine.lastTimestampMs).toBe(5_000)
    expect(state.logTimeMs).toBe(5_000)
  })

  it('restores sessions, log clock and machine from its snapshot', () => {
    const machine = new CounterMachine()
    const state = new ReplicatedState(machine, options)
    state.apply(register(1))
    state.apply(entry(2, { payload: Uint8Array.of(3) }))
    const copyMachine = new CounterMachine()
    const copy = new ReplicatedState(copyMachine, options)
    copy.restore(2, state.snapshot())
    expect(copy.appliedIndex).toBe(2)
    expect(copyMachine.total).toBe(3)
    expect(copy.apply(entry(3, { payload: Uint8Array.of(3) }))).toMatchObject({ kind: 'result' })
    expect(copyMachine.total).toBe(3)
  })

  it('captures sessions, log clock and machine at one index while later entries apply', () => {
    const machine = new CounterMachine()
    const state = new ReplicatedState(machine, options)
    state.apply(register(1))
    state.apply(entry(2, { payload: Uint8Array.of(3), timestampMs: 2_000 }))
    const expected = state.snapshot()
    // A machine without captureSnapshot is encoded at capture time, so later applies cannot leak in.
    const capture = state.captureSnapshot()
    state.apply(register(3, 3_000))
    state.apply(entry(4, { sessionId: '3', payload: Uint8Array.of(4), timestampMs: 3_000 }))
    expect(capture.step()?.toBytes()).toEqual(expected)
    expect(state.snapshot()).not.toEqual(expected)
  })

  it('refuses a corrupt snapshot and leaves the state unchanged', () => {
    const machine = new CounterMachine()
    const state = new ReplicatedState(machine, options)
    state.apply(register(1))
    state.apply(entry(2, { payload: Uint8Array.of(3) }))
    expect(() => state.restore(9, codec.encodeValue([1, 'x', [], new Uint8Array(0)]))).toThrow(DecodeError)
    expect(() => state.restore(9, codec.encodeValue([2, 0, [], new Uint8Array(0)]))).toThrow(DecodeError)
    expect(state.appliedIndex).toBe(2)
    expect(machine.total).toBe(3)
  })

  it('refuses an oversized snapshot in pieces by its length, before joining the pieces', () => {
    const state = new ReplicatedState(new CounterMachine(), { ...options, snapshotBytesMax: 1024 })
    const pieces = new BytesInParts([new Uint8Array(600), new Uint8Array(600)])
    pieces.toBytes = () => {
      throw new Error('joined an oversized snapshot')
    }
    expect(() => state.restore(9, pieces)).toThrow(/1200 bytes exceeds 1024/)
    expect(state.appliedIndex).toBe(0)
  })
})
