/**
 * Goal: the node machine applies kv, counter, lock and directory commands deterministically, feeds
 * every kv change (put, delete, compare-and-set) to the watch hub with its revision and nothing else,
 * restarts the hub's history at a restored snapshot's revision, merges founder announcements in the
 * directory, and passes the StateMachine compliance suite.
 * Method: replicas driven directly with encoded commands.
 */
import { describe, expect, it } from 'vitest'
import { runStateMachineTests } from '@socketcloud/sim'
import { createNodeMachine } from './node-machine'
import type { WatchEvent } from './watch-hub'

const context = (index: number) => ({ index, term: 1, timestampMs: 1_700_000_000_000 + index })
const bytes = (text: string) => new TextEncoder().encode(text)
const idA = 'a'.repeat(64)

describe('node machine', () => {
  it('feeds every successful key-value change to the watch hub in revision order', () => {
    const machine = createNodeMachine()
    const kv = machine.types.kv
    const events: WatchEvent[] = []
    machine.hub.watch('', undefined, {
      event: (event) => events.push(event),
      synced: () => undefined,
      compacted: () => undefined,
    })
    let index = 0
    const apply = (part: 'kv' | 'counter', inner: Uint8Array) =>
      machine.apply(machine.encode(part, inner), context(++index))
    apply('kv', kv.encodeCommand('put', { key: 'a', value: bytes('1') }))
    apply('kv', kv.encodeCommand('put', { key: 'a', value: bytes('2') }))
    apply('kv', kv.encodeCommand('delete', { key: 'missing' }))
    apply('kv', kv.encodeCommand('compareAndSet', { key: 'a', expectedModRevision: 99, value: bytes('x') }))
    apply('kv', kv.encodeCommand('compareAndSet', { key: 'b', expectedModRevision: 0, value: bytes('3') }))
    apply('counter', machine.types.counter.encodeCommand('increment', { name: 'a', by: 1 }))
    apply('kv', kv.encodeCommand('compareAndSet', { key: 'b', expectedModRevision: 3, value: null }))
    apply('kv', kv.encodeCommand('delete', { key: 'a' }))
    machine.apply(new Uint8Array([0xc1]), context(++index))
    expect(events.map((event) => [event.type, event.key, event.revision])).toEqual([
      ['put', 'a', 1],
      ['put', 'a', 2],
      ['put', 'b', 3],
      ['delete', 'b', 4],
      ['delete', 'a', 5],
    ])
    expect(events[1]).toMatchObject({ createRevision: 1, version: 2, value: bytes('2') })
  })

  it('restarts watch history at the revision of a restored snapshot', () => {
    const source = createNodeMachine()
    for (let index = 1; index <= 5; index++) {
      source.apply(
        source.encode('kv', source.types.kv.encodeCommand('put', { key: `k${index}`, value: bytes('v') })),
        context(index),
      )
    }
    const replica = createNodeMachine()
    replica.restore(source.snapshot())
    expect(replica.hub.revision).toBe(5)
    expect(
      replica.hub.watch('', 3, {
        event: () => undefined,
        synced: () => undefined,
        compacted: () => undefined,
      }),
    ).toEqual({
      ok: false,
      compactRevision: 6,
    })
    expect(replica.snapshot()).toEqual(source.snapshot())
  })

  it('registers directory records, merges announcements and tells listeners', () => {
    const machine = createNodeMachine()
    const directory = machine.types.directory
    let changes = 0
    machine.onDirectoryChange(() => changes++)
    const register = (api: string | null, merge: boolean, index: number) =>
      directory.decodeCommandResult(
        'register',
        machine.apply(
          machine.encode(
            'directory',
            directory.encodeCommand('register', {
              id: idA,
              address: 'tcp://127.0.0.1:1',
              api,
              promote: false,
              merge,
            }),
          ),
          context(index),
        ),
      )
    expect(register(null, true, 1)).toEqual({ ok: true, value: { changed: true } })
    expect(register('http://127.0.0.1:7070', true, 2)).toEqual({ ok: true, value: { changed: true } })
    expect(register('http://127.0.0.1:9999', true, 3)).toEqual({ ok: true, value: { changed: false } })
    expect(machine.combined.part('directory').current.records.get(idA)?.api).toBe('http://127.0.0.1:7070')
    expect(register('http://127.0.0.1:9999', false, 4)).toEqual({ ok: true, value: { changed: true } })
    expect(changes).toBe(4)
    const bad = machine.apply(
      machine.encode(
        'directory',
        directory.encodeCommand('register', {
          id: 'nothex',
          address: 'x',
          api: null,
          promote: false,
          merge: false,
        }),
      ),
      context(5),
    )
    expect(directory.decodeCommandResult('register', bad)).toMatchObject({
      ok: false,
      code: 'INVALID_COMMAND',
    })
  })
})

const template = createNodeMachine()
const workload: Uint8Array[] = []
for (let index = 0; index < 24; index++) {
  if (index % 4 === 0)
    workload.push(
      template.encode('counter', template.types.counter.encodeCommand('increment', { name: 'c', by: index })),
    )
  else if (index % 4 === 1)
    workload.push(
      template.encode(
        'lock',
        template.types.lock.encodeCommand('acquire', { name: 'l', owner: `o${index % 3}`, leaseMs: 5 }),
      ),
    )
  else if (index % 4 === 2)
    workload.push(
      template.encode(
        'directory',
        template.types.directory.encodeCommand('register', {
          id: idA,
          address: `tcp://h:${index}`,
          api: null,
          promote: index % 3 === 0,
          merge: false,
        }),
      ),
    )
  else
    workload.push(
      template.encode(
        'kv',
        template.types.kv.encodeCommand('put', { key: `k${index % 5}`, value: bytes(`${index}`) }),
      ),
    )
}
runStateMachineTests(
  () => ({
    impl: {
      create: () => createNodeMachine(),
      commands: workload,
      queries: [
        template.encode('kv', template.types.kv.encodeQuery('range', { prefix: '', limit: 100 })),
        template.encode('counter', template.types.counter.encodeQuery('get', { name: 'c' })),
        template.encode('lock', template.types.lock.encodeQuery('get', { name: 'l' })),
        template.encode('directory', template.types.directory.encodeQuery('list', {})),
      ],
    },
    teardown: () => undefined,
  }),
  'node machine: StateMachine compliance',
)
