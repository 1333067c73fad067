/**
 * Goal: the key-value store keeps etcd's revision model — a global revision bumped by every change,
 * per-key create/mod revisions and versions — with compare-and-set on modRevision, prefix ranges
 * with limits, and limits refused as error results; and it passes the StateMachine compliance suite.
 * Method: drive one replica through the typed client helpers and check each result.
 */
import { describe, expect, it } from 'vitest'
import { runStateMachineTests } from '@socketcloud/sim'
import { keyValueStore } from '@socketcloud/state-machines'
import type { KeyValueMachineType } from '@socketcloud/state-machines'
import { contexts } from '../test-context'

const bytes = (text: string) => new TextEncoder().encode(text)

function client(type: KeyValueMachineType = keyValueStore()) {
  const machine = type.create()
  const next = contexts()
  return {
    machine,
    put: (key: string, value: string) =>
      type.decodeCommandResult(
        'put',
        machine.apply(type.encodeCommand('put', { key, value: bytes(value) }), next()),
      ),
    remove: (key: string) =>
      type.decodeCommandResult('delete', machine.apply(type.encodeCommand('delete', { key }), next())),
    cas: (key: string, expectedModRevision: number, value: string | null) =>
      type.decodeCommandResult(
        'compareAndSet',
        machine.apply(
          type.encodeCommand('compareAndSet', {
            key,
            expectedModRevision,
            value: value === null ? null : bytes(value),
          }),
          next(),
        ),
      ),
    get: (key: string) => type.decodeQueryResult('get', machine.query(type.encodeQuery('get', { key }))),
    range: (prefix: string, limit: number) =>
      type.decodeQueryResult('range', machine.query(type.encodeQuery('range', { prefix, limit }))),
  }
}

describe('keyValueStore', () => {
  it('tracks the global revision and per-key create/mod revisions and versions', () => {
    const kv = client()
    expect(kv.put('a', '1')).toEqual({ ok: true, value: { revision: 1, created: true } })
    expect(kv.put('b', '1')).toEqual({ ok: true, value: { revision: 2, created: true } })
    expect(kv.put('a', '2')).toEqual({ ok: true, value: { revision: 3, created: false } })
    expect(kv.get('a')).toEqual({
      ok: true,
      value: {
        revision: 3,
        kv: { key: 'a', value: bytes('2'), createRevision: 1, modRevision: 3, version: 2 },
      },
    })
    expect(kv.remove('a')).toEqual({ ok: true, value: { revision: 4, deleted: true } })
    expect(kv.remove('a')).toEqual({ ok: true, value: { revision: 4, deleted: false } })
    expect(kv.get('a')).toEqual({ ok: true, value: { revision: 4, kv: null } })
    kv.put('a', '3')
    expect(kv.get('a')).toMatchObject({ value: { kv: { createRevision: 5, modRevision: 5, version: 1 } } })
  })

  it('compare-and-set succeeds only on the expected modRevision (0: absent)', () => {
    const kv = client()
    expect(kv.cas('k', 0, 'first')).toMatchObject({ ok: true, value: { succeeded: true, revision: 1 } })
    expect(kv.cas('k', 0, 'again')).toMatchObject({
      ok: true,
      value: { succeeded: false, revision: 1, current: { modRevision: 1, value: bytes('first') } },
    })
    expect(kv.cas('k', 1, 'second')).toMatchObject({
      ok: true,
      value: { succeeded: true, revision: 2, current: { version: 2, value: bytes('second') } },
    })
    expect(kv.cas('k', 1, null)).toMatchObject({ value: { succeeded: false } })
    expect(kv.cas('k', 2, null)).toEqual({ ok: true, value: { succeeded: true, revision: 3, current: null } })
    expect(kv.get('k')).toMatchObject({ value: { kv: null } })
  })

  it('ranges over a prefix in key order, honouring the limit', () => {
    const kv = client()
    for (const key of ['user/3', 'user/1', 'job/1', 'user/2', 'users', 'user/10']) kv.put(key, key)
    const all = kv.range('user/', 10)
    expect(all.ok && all.value.kvs.map((item) => item.key)).toEqual(['user/1', 'user/10', 'user/2', 'user/3'])
    expect(all.ok && all.value.more).toBe(false)
    const two = kv.range('user/', 2)
    expect(two.ok && two.value.kvs.map((item) => item.key)).toEqual(['user/1', 'user/10'])
    expect(two.ok && two.value.more).toBe(true)
    expect(kv.range('', 100)).toMatchObject({ value: { kvs: { length: 6 } } })
    expect(kv.range('zzz', 5)).toEqual({ ok: true, value: { revision: 6, kvs: [], more: false } })
  })

  it('refuses oversized keys and values, too many keys and too large a range limit', () => {
    const kv = client(keyValueStore({ keyBytesMax: 8, valueBytesMax: 4, keysMax: 2, rangeLimitMax: 5 }))
    expect(kv.put('123456789', 'v')).toMatchObject({ ok: false, code: 'INVALID_COMMAND' })
    expect(kv.put('k', '12345')).toMatchObject({ ok: false, code: 'INVALID_COMMAND' })
    kv.put('a', '1')
    kv.put('b', '1')
    expect(kv.put('c', '1')).toMatchObject({ ok: false, code: 'LIMIT_EXCEEDED' })
    expect(kv.put('a', '2')).toMatchObject({ ok: true })
    expect(kv.range('', 6)).toMatchObject({ ok: false, code: 'INVALID_QUERY' })
    expect(kv.get('c')).toMatchObject({ value: { revision: 3, kv: null } })
  })

  it('snapshots are byte-identical whatever order the replica built its key table in', () => {
    const original = client()
    for (const key of ['m', 'a', 'z', 'k']) original.put(key, 'v')
    const restored = keyValueStore().create()
    restored.restore(original.machine.snapshot())
    // The original's table is in insertion order, the restored one's in key order; new keys land
    // in different places in each, and the snapshots must still match byte for byte.
    const type = keyValueStore()
    for (const key of ['b', 'y']) {
      const command = type.encodeCommand('put', { key, value: bytes(key) })
      const context = { index: 9, term: 1, timestampMs: 0 }
      expect(restored.apply(command, context)).toEqual(original.machine.apply(command, context))
    }
    expect(restored.snapshot()).toEqual(original.machine.snapshot())
  })
})

const kvType = keyValueStore()
const workload: Uint8Array[] = []
for (let i = 0; i < 40; i++) {
  const key = `key/${i % 7}`
  if (i % 5 === 4) workload.push(kvType.encodeCommand('delete', { key }))
  else if (i % 3 === 0)
    workload.push(
      kvType.encodeCommand('compareAndSet', { key, expectedModRevision: i - 3, value: bytes(`${i}`) }),
    )
  else workload.push(kvType.encodeCommand('put', { key, value: bytes(`value ${i}`) }))
}
runStateMachineTests(
  () => ({
    impl: {
      create: () => kvType.create(),
      commands: workload,
      queries: [
        kvType.encodeQuery('range', { prefix: 'key/', limit: 100 }),
        kvType.encodeQuery('get', { key: 'key/3' }),
      ],
      garbage: [kvType.encodeCommand('put', { key: 'x', value: 'not bytes' as unknown as Uint8Array })],
    },
    teardown: () => undefined,
  }),
  'keyValueStore: StateMachine compliance',
)
