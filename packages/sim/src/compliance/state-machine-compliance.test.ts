// Goal: runStateMachineTests exercises a real (if small) state machine: a counter map whose commands
// are JSON, whose malformed commands produce error results, and whose timestamps come only from the
// apply context — the shape every user state machine must have.
import { utf8Decode, utf8Encode } from '@socketcloud/core'
import type { ApplyContext, StateMachine } from '@socketcloud/core'
import { runStateMachineTests } from '../index'

class CounterMachine implements StateMachine {
  private counters = new Map<string, number>()
  private lastTimestampMs = 0

  apply(command: Uint8Array, context: ApplyContext): Uint8Array {
    let parsed: unknown
    try {
      parsed = JSON.parse(utf8Decode(command))
    } catch {
      return utf8Encode(JSON.stringify({ error: 'malformed command' }))
    }
    const { name, delta } = (parsed ?? {}) as { name?: unknown; delta?: unknown }
    if (typeof name !== 'string' || typeof delta !== 'number' || !Number.isInteger(delta)) {
      return utf8Encode(JSON.stringify({ error: 'invalid command' }))
    }
    const value = (this.counters.get(name) ?? 0) + delta
    this.counters.set(name, value)
    this.lastTimestampMs = context.timestampMs
    return utf8Encode(JSON.stringify({ value, index: context.index }))
  }

  query(query: Uint8Array): Uint8Array {
    const name = utf8Decode(query)
    return utf8Encode(JSON.stringify({ value: this.counters.get(name) ?? 0, at: this.lastTimestampMs }))
  }

  snapshot(): Uint8Array {
    const entries = [...this.counters.entries()].sort(([a], [b]) => (a < b ? -1 : 1))
    return utf8Encode(JSON.stringify({ entries, lastTimestampMs: this.lastTimestampMs }))
  }

  restore(snapshot: Uint8Array): void {
    const { entries, lastTimestampMs } = JSON.parse(utf8Decode(snapshot)) as {
      entries: [string, number][]
      lastTimestampMs: number
    }
    this.counters = new Map(entries)
    this.lastTimestampMs = lastTimestampMs
  }
}

const names = ['a', 'b', 'c', 'd']
runStateMachineTests(
  () => ({
    impl: {
      create: () => new CounterMachine(),
      commands: Array.from({ length: 40 }, (_, i) =>
        utf8Encode(JSON.stringify({ name: names[i % names.length], delta: ((i * 7) % 11) - 5 })),
      ),
      queries: names.map((name) => utf8Encode(name)),
      garbage: [utf8Encode('{"name":"a","delta":1.5}'), utf8Encode('null')],
    },
    teardown: () => undefined,
  }),
  'CounterMachine (compliance suite self-test)',
)
