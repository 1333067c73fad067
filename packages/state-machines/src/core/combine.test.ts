/**
 * Goal: a combined machine routes each `[part, bytes]` command or query to its part and returns the
 * part's own result bytes; routing failures are error results (never exceptions); snapshots carry
 * every part, are canonical, and a bad snapshot leaves the state untouched; it passes the compliance suite.
 * Method: the built-in key-value store and counter service combined, driven through typed helpers.
 */
import { describe, expect, it } from 'vitest'
import { AssertionError, Codec } from '@socketcloud/core'
import { runStateMachineTests } from '@socketcloud/sim'
import { combineStateMachines, counterService, keyValueStore } from '@socketcloud/state-machines'
import { contexts } from './test-context'

const kv = keyValueStore()
const counters = counterService()
const codec = new Codec()
const bytes = (text: string) => new TextEncoder().encode(text)

describe('combineStateMachines', () => {
  it('routes commands and queries to their part and returns the part result unchanged', () => {
    const machine = combineStateMachines({ kv, counters })
    const next = contexts()
    const put = machine.apply(
      machine.encode('kv', kv.encodeCommand('put', { key: 'a', value: bytes('1') })),
      next(),
    )
    expect(kv.decodeCommandResult('put', put)).toEqual({ ok: true, value: { revision: 1, created: true } })
    const added = machine.apply(
      machine.encode('counters', counters.encodeCommand('increment', { name: 'a', by: 3 })),
      next(),
    )
    expect(counters.decodeCommandResult('increment', added)).toEqual({ ok: true, value: { value: 3 } })
    const got = kv.decodeQueryResult(
      'get',
      machine.query(machine.encode('kv', kv.encodeQuery('get', { key: 'a' }))),
    )
    expect(got.ok && got.value.kv?.value).toEqual(bytes('1'))
    expect(machine.part('counters').current.counters.get('a')).toBe(3)
  })

  it('answers unknown parts and malformed routing with error results', () => {
    const machine = combineStateMachines({ kv })
    const next = contexts()
    const unknown = machine.apply(codec.encodeValue(['nope', new Uint8Array([1])]), next())
    expect(kv.decodeCommandResult('put', unknown)).toMatchObject({ ok: false, code: 'UNKNOWN_PART' })
    for (const garbage of [
      new Uint8Array([0xc1]),
      codec.encodeValue('x'),
      codec.encodeValue(['kv', 'str']),
    ]) {
      expect(kv.decodeCommandResult('put', machine.apply(garbage, next()))).toMatchObject({
        ok: false,
        code: 'INVALID_COMMAND',
      })
      expect(kv.decodeQueryResult('get', machine.query(garbage))).toMatchObject({
        ok: false,
        code: 'INVALID_QUERY',
      })
    }
    expect(() => machine.encode('nope' as 'kv', new Uint8Array())).toThrow()
  })

  it('captures every part at one moment and encodes the capturing ones in steps', () => {
    const machine = combineStateMachines({ kv, counters })
    const next = contexts()
    const put = (key: string, value: string) =>
      machine.apply(machine.encode('kv', kv.encodeCommand('put', { key, value: bytes(value) })), next())
    const add = (name: string) =>
      machine.apply(machine.encode('counters', counters.encodeCommand('increment', { name, by: 1 })), next())
    for (let i = 0; i < 3_000; i++) put(`k${i}`, `v${i}`)
    add('c')
    const expected = machine.snapshot()
    // Decoding marks the buffer it reads (msgpackr keeps a DataView on it); compare against a copy.
    const pristine = expected.slice()
    const capture = machine.captureSnapshot!()
    expect(() => machine.captureSnapshot!()).toThrow(AssertionError)
    let result: Uint8Array | null = null
    let steps = 0
    while (result === null) {
      // Both parts change between steps; neither change may show in the captured snapshot.
      put(`k${steps}`, 'changed')
      put(`new${steps}`, 'x')
      add('c')
      result = capture.step()?.toBytes() ?? null
      steps++
    }
    expect(steps).toBeGreaterThan(3)
    expect(result).toEqual(expected)
    const restored = combineStateMachines({ kv, counters })
    restored.restore(result.slice())
    expect(restored.part('counters').current.counters.get('c')).toBe(1)
    expect(restored.part('kv').current.keys.size).toBe(3_000)

    // A restore ends an open capture: stepping it is refused, and a new one can be taken.
    const open = machine.captureSnapshot!()
    expect(open.step()).toBeNull()
    machine.restore(expected)
    expect(() => open.step()).toThrow(AssertionError)
    expect(machine.part('kv').current.preserved).toBeNull()
    const again = machine.captureSnapshot!()
    let bytesAgain: Uint8Array | null = null
    while (bytesAgain === null) bytesAgain = again.step()?.toBytes() ?? null
    expect(bytesAgain).toEqual(pristine)
  })

  it('snapshots every part canonically and restores atomically', () => {
    const first = combineStateMachines({ kv, counters })
    const second = combineStateMachines({ counters, kv })
    const next = contexts()
    const commands = [
      first.encode('kv', kv.encodeCommand('put', { key: 'b', value: bytes('2') })),
      first.encode('counters', counters.encodeCommand('increment', { name: 'x', by: 5 })),
    ]
    for (const command of commands) {
      const context = next()
      first.apply(command, context)
      second.apply(command, context)
    }
    expect(second.snapshot()).toEqual(first.snapshot())
    const restored = combineStateMachines({ kv, counters })
    restored.restore(first.snapshot())
    expect(restored.snapshot()).toEqual(first.snapshot())

    const kvOnly = combineStateMachines({ kv })
    expect(() => restored.restore(kvOnly.snapshot())).toThrow()
    const corrupt = codec.encodeValue([
      1,
      'socketcloud.combined',
      [
        ['counters', counters.create().snapshot()],
        ['kv', new Uint8Array([1, 2])],
      ],
    ])
    expect(() => restored.restore(corrupt)).toThrow()
    expect(restored.snapshot()).toEqual(first.snapshot())
  })
})

const compliance = combineStateMachines({ kv, counters })
const workload: Uint8Array[] = []
for (let i = 0; i < 30; i++) {
  if (i % 3 === 0)
    workload.push(
      compliance.encode('counters', counters.encodeCommand('increment', { name: `c${i % 4}`, by: i })),
    )
  else if (i % 5 === 0)
    workload.push(compliance.encode('kv', kv.encodeCommand('delete', { key: `k${i % 6}` })))
  else
    workload.push(
      compliance.encode('kv', kv.encodeCommand('put', { key: `k${i % 6}`, value: bytes(`v${i}`) })),
    )
}
workload.push(codec.encodeValue(['missing', new Uint8Array()]))
runStateMachineTests(
  () => ({
    impl: {
      create: () => combineStateMachines({ kv, counters }),
      commands: workload,
      queries: [
        compliance.encode('kv', kv.encodeQuery('range', { prefix: 'k', limit: 10 })),
        compliance.encode('counters', counters.encodeQuery('get', { name: 'c0' })),
      ],
    },
    teardown: () => undefined,
  }),
  'combineStateMachines: StateMachine compliance',
)
