import { deepStrictEqual, doesNotThrow, ok } from 'node:assert/strict'
import type { ApplyContext, StateMachine } from '@socketcloud/core'
import { describe, it } from '@vitest/runner'
import { bytesOf, withSetup } from './harness'
import type { SetupFunction } from './harness'

/** What `runStateMachineTests` needs: fresh instances and a workload that exercises the machine. */
export interface StateMachineHarness {
  /** A new machine in its initial state. */
  create(): StateMachine
  /** Valid commands covering the machine's operations (at least a few dozen), applied in order. */
  readonly commands: readonly Uint8Array[]
  /** Valid queries whose answers must agree between replicas. @default [] */
  readonly queries?: readonly Uint8Array[]
  /** Extra malformed commands on top of the built-in garbage (empty, random bytes, truncated commands). */
  readonly garbage?: readonly Uint8Array[]
}

const START_WALL_MS = 1_700_000_000_000

function contextFor(position: number): ApplyContext {
  return {
    index: position + 1,
    term: 1 + Math.floor(position / 10),
    timestampMs: START_WALL_MS + position * 250,
  }
}

function applyAll(machine: StateMachine, commands: readonly Uint8Array[], offset = 0): Uint8Array[] {
  return commands.map((command, i) => machine.apply(command.slice(), contextFor(offset + i)))
}

function answers(machine: StateMachine, queries: readonly Uint8Array[]): Uint8Array[] {
  return queries.map((query) => machine.query(query.slice()))
}

function builtInGarbage(commands: readonly Uint8Array[]): Uint8Array[] {
  const garbage = [
    new Uint8Array(0),
    new Uint8Array([0xff]),
    new Uint8Array([0xc1]),
    bytesOf(64, 1),
    bytesOf(4096, 2),
  ]
  for (const command of commands.slice(0, 5)) {
    if (command.length > 1) garbage.push(command.slice(0, Math.floor(command.length / 2)))
  }
  return garbage
}

/**
 * The StateMachine contract (core `state-machine.ts`): determinism across replicas, snapshot and
 * restore equivalence, and malformed commands turning into error results rather than exceptions.
 */
export function runStateMachineTests(
  setup: SetupFunction<StateMachineHarness>,
  title = 'StateMachine compliance',
): void {
  const test = (name: string, body: (harness: StateMachineHarness) => Promise<void> | void) =>
    it(name, () => withSetup(setup, async (harness) => body(harness)))

  describe(title, () => {
    test('the workload is large enough to mean something', (harness) => {
      ok(harness.commands.length >= 10, 'give runStateMachineTests at least 10 commands')
    })

    test('replicas applying the same commands return the same results and snapshots', (harness) => {
      const a = harness.create()
      const b = harness.create()
      deepStrictEqual(applyAll(a, harness.commands), applyAll(b, harness.commands))
      deepStrictEqual(a.snapshot(), b.snapshot())
      deepStrictEqual(answers(a, harness.queries ?? []), answers(b, harness.queries ?? []))
    })

    test('a replica restored from a snapshot continues exactly like the original', (harness) => {
      const half = Math.floor(harness.commands.length / 2)
      const original = harness.create()
      applyAll(original, harness.commands.slice(0, half))
      const restored = harness.create()
      restored.restore(original.snapshot())
      deepStrictEqual(restored.snapshot(), original.snapshot())
      deepStrictEqual(answers(restored, harness.queries ?? []), answers(original, harness.queries ?? []))
      const rest = harness.commands.slice(half)
      deepStrictEqual(applyAll(restored, rest, half), applyAll(original, rest, half))
      deepStrictEqual(restored.snapshot(), original.snapshot())
    })

    test('restore replaces the whole state', (harness) => {
      const empty = harness.create()
      const busy = harness.create()
      applyAll(busy, harness.commands)
      busy.restore(empty.snapshot())
      deepStrictEqual(busy.snapshot(), empty.snapshot())
      deepStrictEqual(answers(busy, harness.queries ?? []), answers(empty, harness.queries ?? []))
    })

    test('queries do not change the state', (harness) => {
      const machine = harness.create()
      applyAll(machine, harness.commands)
      const before = machine.snapshot()
      answers(machine, harness.queries ?? [])
      deepStrictEqual(machine.snapshot(), before)
    })

    test('malformed commands produce results, not exceptions, identically on every replica', (harness) => {
      const garbage = [...builtInGarbage(harness.commands), ...(harness.garbage ?? [])]
      const a = harness.create()
      const b = harness.create()
      const half = Math.floor(harness.commands.length / 2)
      applyAll(a, harness.commands.slice(0, half))
      applyAll(b, harness.commands.slice(0, half))
      garbage.forEach((command, i) => {
        let resultA: Uint8Array | undefined
        doesNotThrow(() => {
          resultA = a.apply(command.slice(), contextFor(half + i))
        }, `malformed command #${i} threw`)
        ok(resultA instanceof Uint8Array, `malformed command #${i} returned no result bytes`)
        deepStrictEqual(b.apply(command.slice(), contextFor(half + i)), resultA)
      })
      deepStrictEqual(a.snapshot(), b.snapshot())
      const offset = half + garbage.length
      deepStrictEqual(
        applyAll(a, harness.commands.slice(half), offset),
        applyAll(b, harness.commands.slice(half), offset),
      )
    })
  })
}
