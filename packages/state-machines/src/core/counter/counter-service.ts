import { DecodeError, checkLimit, expectArray, expectInt, expectRecord, expectUint } from '@socketcloud/core'
import { CommandError } from '../command-error'
import { command, defineStateMachine, query } from '../define'
import type { MachineLimits } from '../define'
import { compareStrings, expectBoundedString } from '../limits'

export interface CounterOptions extends MachineLimits {
  /** @default 256 */
  readonly nameBytesMax?: number
  /** Counters held at once; changing one more is refused with LIMIT_EXCEEDED. @default 1,000,000 */
  readonly countersMax?: number
}

export const COUNTER_DEFAULTS = Object.freeze({ nameBytesMax: 256, countersMax: 1_000_000 })

interface CounterState {
  readonly counters: Map<string, number>
}

export interface CounterValue {
  readonly value: number
}

/**
 * Named counters: increment and decrement by a non-negative amount, get, delete. A counter that has
 * never been changed reads 0. Every change is one committed command, so it is atomic, and a change
 * that would leave the safe-integer range (±2^53 - 1) is refused with OVERFLOW, changing nothing.
 */
export function counterService(options: CounterOptions = {}) {
  const nameBytesMax = checkLimit('nameBytesMax', options.nameBytesMax ?? COUNTER_DEFAULTS.nameBytesMax)
  const countersMax = checkLimit('countersMax', options.countersMax ?? COUNTER_DEFAULTS.countersMax)
  const name = (value: unknown, path: string) => expectBoundedString(value, path, nameBytesMax)
  const change = (operation: string) => (value: unknown) => {
    const args = expectRecord(value, operation)
    return { name: name(args['name'], `${operation}.name`), by: expectUint(args['by'], `${operation}.by`) }
  }
  const add = (state: CounterState, counter: string, delta: number): CounterValue => {
    const current = state.counters.get(counter)
    if (current === undefined && state.counters.size >= countersMax) {
      throw new CommandError('LIMIT_EXCEEDED', `the service holds countersMax (${countersMax}) counters`, {
        countersMax,
      })
    }
    const next = (current ?? 0) + delta
    if (!Number.isSafeInteger(next)) {
      throw new CommandError('OVERFLOW', `counter ${counter} would leave the safe-integer range`, {
        name: counter,
        value: current ?? 0,
        delta,
      })
    }
    state.counters.set(counter, next)
    return { value: next }
  }

  return defineStateMachine(
    {
      name: 'socketcloud.counter',
      initial: (): CounterState => ({ counters: new Map() }),
      commands: {
        increment: command({
          decode: change('increment'),
          apply: (state: CounterState, args): CounterValue => add(state, args.name, args.by),
        }),
        decrement: command({
          decode: change('decrement'),
          apply: (state: CounterState, args): CounterValue => add(state, args.name, -args.by),
        }),
        delete: command({
          decode: (value: unknown) => ({ name: name(expectRecord(value, 'delete')['name'], 'delete.name') }),
          apply: (state: CounterState, args): { deleted: boolean } => ({
            deleted: state.counters.delete(args.name),
          }),
        }),
      },
      queries: {
        get: query({
          decode: (value: unknown) => ({ name: name(expectRecord(value, 'get')['name'], 'get.name') }),
          run: (state: CounterState, args): CounterValue => ({ value: state.counters.get(args.name) ?? 0 }),
        }),
      },
      snapshot: (state) =>
        [...state.counters.keys()]
          .sort(compareStrings)
          .map((counter) => [counter, state.counters.get(counter)!]),
      restore: (value): CounterState => {
        const counters = new Map<string, number>()
        let previous: string | null = null
        for (const row of expectArray(value, 'counter snapshot', Number.MAX_SAFE_INTEGER)) {
          const [counter, count] = expectArray(row, 'counter snapshot.counter', 2)
          const key = name(counter, 'counter snapshot.name')
          if (previous !== null && !(previous < key)) {
            throw new DecodeError('MALFORMED', 'counter snapshot names are not strictly sorted')
          }
          previous = key
          counters.set(key, expectInt(count, 'counter snapshot.value'))
        }
        return { counters }
      },
    },
    options,
  )
}

export type CounterMachineType = ReturnType<typeof counterService>
