/**
 * Goal: counters add and subtract atomically, read 0 before their first change, refuse to leave the
 * safe-integer range without changing anything, and pass the StateMachine compliance suite.
 * Method: typed client helpers against one replica.
 */
import { describe, expect, it } from 'vitest'
import { runStateMachineTests } from '@socketcloud/sim'
import { counterService } from '@socketcloud/state-machines'
import { contexts } from '../test-context'

function client(type = counterService()) {
  const machine = type.create()
  const next = contexts()
  return {
    increment: (name: string, by: number) =>
      type.decodeCommandResult(
        'increment',
        machine.apply(type.encodeCommand('increment', { name, by }), next()),
      ),
    decrement: (name: string, by: number) =>
      type.decodeCommandResult(
        'decrement',
        machine.apply(type.encodeCommand('decrement', { name, by }), next()),
      ),
    remove: (name: string) =>
      type.decodeCommandResult('delete', machine.apply(type.encodeCommand('delete', { name }), next())),
    get: (name: string) => type.decodeQueryResult('get', machine.query(type.encodeQuery('get', { name }))),
  }
}

describe('counterService', () => {
  it('increments, decrements below zero, reads 0 when unset, and deletes', () => {
    const counters = client()
    expect(counters.get('hits')).toEqual({ ok: true, value: { value: 0 } })
    expect(counters.increment('hits', 5)).toEqual({ ok: true, value: { value: 5 } })
    expect(counters.decrement('hits', 8)).toEqual({ ok: true, value: { value: -3 } })
    expect(counters.increment('other', 0)).toEqual({ ok: true, value: { value: 0 } })
    expect(counters.get('hits')).toEqual({ ok: true, value: { value: -3 } })
    expect(counters.remove('hits')).toEqual({ ok: true, value: { deleted: true } })
    expect(counters.get('hits')).toEqual({ ok: true, value: { value: 0 } })
  })

  it('refuses overflow in either direction and keeps the value', () => {
    const counters = client()
    counters.increment('big', Number.MAX_SAFE_INTEGER - 1)
    expect(counters.increment('big', 2)).toMatchObject({ ok: false, code: 'OVERFLOW' })
    expect(counters.increment('big', 1)).toEqual({ ok: true, value: { value: Number.MAX_SAFE_INTEGER } })
    counters.decrement('small', Number.MAX_SAFE_INTEGER)
    expect(counters.decrement('small', 1)).toMatchObject({ ok: false, code: 'OVERFLOW' })
    expect(counters.get('small')).toEqual({ ok: true, value: { value: -Number.MAX_SAFE_INTEGER } })
  })

  it('refuses negative or fractional amounts, and more counters than countersMax', () => {
    const counters = client(counterService({ countersMax: 1 }))
    expect(counters.increment('a', -1)).toMatchObject({ ok: false, code: 'INVALID_COMMAND' })
    expect(counters.increment('a', 1.5)).toMatchObject({ ok: false, code: 'INVALID_COMMAND' })
    expect(counters.increment('a', 1)).toMatchObject({ ok: true })
    expect(counters.increment('b', 1)).toMatchObject({ ok: false, code: 'LIMIT_EXCEEDED' })
  })
})

const type = counterService()
const workload: Uint8Array[] = []
for (let i = 0; i < 30; i++) {
  const name = `c${i % 4}`
  if (i % 7 === 6) workload.push(type.encodeCommand('delete', { name }))
  else if (i % 2 === 0) workload.push(type.encodeCommand('increment', { name, by: i * 1000 }))
  else workload.push(type.encodeCommand('decrement', { name, by: i }))
}
workload.push(type.encodeCommand('increment', { name: 'edge', by: Number.MAX_SAFE_INTEGER }))
workload.push(type.encodeCommand('increment', { name: 'edge', by: 1 }))
runStateMachineTests(
  () => ({
    impl: {
      create: () => type.create(),
      commands: workload,
      queries: ['c0', 'c1', 'edge', 'never'].map((name) => type.encodeQuery('get', { name })),
    },
    teardown: () => undefined,
  }),
  'counterService: StateMachine compliance',
)
