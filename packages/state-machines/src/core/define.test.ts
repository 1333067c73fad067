/**
 * Goal: the framework turns a typed definition into a StateMachine whose commands and queries round-
 * trip with their types, whose refusals and garbage become error results (never exceptions), and
 * whose snapshots are refused when they belong to another machine or are malformed.
 * Method: a tiny custom machine (a register), plus fast-check garbage against it.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DecodeError, expectRecord, expectString, expectUint } from '@socketcloud/core'
import { CommandError, command, defineStateMachine, query } from '@socketcloud/state-machines'
import { contexts } from './test-context'

interface Register {
  value: string
  writes: number
}

const register = defineStateMachine({
  name: 'test.register',
  initial: (): Register => ({ value: '', writes: 0 }),
  commands: {
    write: command({
      decode: (raw: unknown) => ({
        value: expectString(expectRecord(raw, 'write')['value'], 'write.value', 100),
      }),
      apply: (state: Register, args) => {
        if (args.value === 'forbidden') throw new CommandError('FORBIDDEN', 'that value is not allowed')
        state.value = args.value
        state.writes++
        return { writes: state.writes }
      },
    }),
    crash: command({
      decode: () => ({}),
      apply: (): number => {
        throw new TypeError('a bug in the machine')
      },
    }),
  },
  queries: {
    read: query({ decode: () => ({}), run: (state: Register) => ({ value: state.value }) }),
  },
  snapshot: (state) => [state.value, state.writes],
  restore: (raw) => {
    const [value, writes] = raw as unknown[]
    return { value: expectString(value, 'value', 100), writes: expectUint(writes, 'writes') }
  },
})

describe('defineStateMachine', () => {
  it('applies typed commands and answers typed queries', () => {
    const machine = register.create()
    const next = contexts()
    const result = register.decodeCommandResult(
      'write',
      machine.apply(register.encodeCommand('write', { value: 'x' }), next()),
    )
    expect(result).toEqual({ ok: true, value: { writes: 1 } })
    const read = register.decodeQueryResult('read', machine.query(register.encodeQuery('read', {})))
    expect(read).toEqual({ ok: true, value: { value: 'x' } })
    // @ts-expect-error -- arguments are typed from the definition
    expect(() => register.encodeCommand('write', { value: 3 })).not.toThrow()
  })

  it('turns refusals, unknown names, bad arguments and bugs into error results', () => {
    const machine = register.create()
    const next = contexts()
    const decode = (bytes: Uint8Array) => register.decodeCommandResult('write', bytes)
    expect(
      decode(machine.apply(register.encodeCommand('write', { value: 'forbidden' }), next())),
    ).toMatchObject({
      ok: false,
      code: 'FORBIDDEN',
    })
    const unknown = register.create().type.encodeCommand('write', { value: 'a' })
    unknown[2] = 'x'.charCodeAt(0) // 'write' -> 'xrite'
    expect(decode(machine.apply(unknown, next()))).toMatchObject({ ok: false, code: 'UNKNOWN_COMMAND' })
    expect(
      decode(machine.apply(register.encodeCommand('write', { value: 'y'.repeat(101) }), next())),
    ).toMatchObject({
      ok: false,
      code: 'INVALID_COMMAND',
    })
    expect(decode(machine.apply(register.encodeCommand('crash', {}), next()))).toMatchObject({
      ok: false,
      code: 'INTERNAL',
    })
    expect(register.decodeQueryResult('read', machine.query(register.encodeQuery('read', {})))).toEqual({
      ok: true,
      value: { value: '' },
    })
  })

  it('never throws on arbitrary bytes, and answers identically on two replicas', () => {
    const a = register.create()
    const b = register.create()
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const context = { index: 1, term: 1, timestampMs: 0 }
        const resultA = a.apply(bytes, context)
        expect(resultA).toEqual(b.apply(bytes, context))
        expect(a.query(bytes)).toEqual(b.query(bytes))
      }),
      { numRuns: 500 },
    )
    expect(a.snapshot()).toEqual(b.snapshot())
  })

  it('restores its own snapshots and refuses another machine’s or garbage, keeping its state', () => {
    const machine = register.create()
    machine.apply(register.encodeCommand('write', { value: 'kept' }), contexts()())
    const copy = register.create()
    copy.restore(machine.snapshot())
    expect(copy.snapshot()).toEqual(machine.snapshot())
    const other = defineStateMachine({ ...register.definition, name: 'test.other' }).create()
    expect(() => copy.restore(other.snapshot())).toThrow(DecodeError)
    expect(() => copy.restore(new Uint8Array([1, 2, 3]))).toThrow(DecodeError)
    expect(copy.current.value).toBe('kept')
  })
})
