/**
 * Goal: every built-in machine is a deterministic replica — for any command history, a replica that
 * restored a snapshot taken at any point and applied the rest gives the same results, the same query
 * answers and a byte-identical snapshot as one that applied everything.
 * Method: fast-check generates histories of valid and invalid commands for each machine, with leader
 * timestamps that sometimes go backwards (a new leader with a slower clock).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ApplyContext, StateMachine } from '@socketcloud/core'
import { counterService, keyValueStore, lockService } from '@socketcloud/state-machines'

const kv = keyValueStore()
const counter = counterService()
const lock = lockService()
const names = fc.constantFrom('a', 'b', 'a/x', 'a/y', 'c')
const owners = fc.constantFrom('alice', 'bob', 'carol')

const kvCommand = fc.oneof(
  fc
    .record({ key: names, value: fc.uint8Array({ maxLength: 8 }) })
    .map((args) => kv.encodeCommand('put', args)),
  names.map((key) => kv.encodeCommand('delete', { key })),
  fc
    .record({
      key: names,
      expectedModRevision: fc.nat(20),
      value: fc.option(fc.uint8Array({ maxLength: 8 })),
    })
    .map((args) => kv.encodeCommand('compareAndSet', args)),
  fc.uint8Array({ maxLength: 12 }),
)
const counterCommand = fc.oneof(
  fc.record({ name: names, by: fc.nat() }).map((args) => counter.encodeCommand('increment', args)),
  fc.record({ name: names, by: fc.nat() }).map((args) => counter.encodeCommand('decrement', args)),
  names.map((name) => counter.encodeCommand('delete', { name })),
  fc.uint8Array({ maxLength: 12 }),
)
const lockCommand = fc.oneof(
  fc
    .record({ name: names, owner: owners, leaseMs: fc.integer({ min: 1, max: 500 }) })
    .map((args) => lock.encodeCommand('acquire', args)),
  fc
    .record({
      name: names,
      owner: owners,
      fencingToken: fc.nat(30),
      leaseMs: fc.integer({ min: 1, max: 500 }),
    })
    .map((args) => lock.encodeCommand('renew', args)),
  fc
    .record({ name: names, owner: owners, fencingToken: fc.nat(30) })
    .map((args) => lock.encodeCommand('release', args)),
  fc.uint8Array({ maxLength: 12 }),
)

function checkReplication(
  create: () => StateMachine,
  queries: readonly Uint8Array[],
  command: fc.Arbitrary<Uint8Array>,
): void {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(command, fc.integer({ min: -200, max: 300 })), { minLength: 1, maxLength: 60 }),
      fc.nat(),
      (history, cut) => {
        const split = cut % (history.length + 1)
        let timestampMs = 1_000_000
        const contexts: ApplyContext[] = history.map(([, step], position) => {
          timestampMs += step
          return { index: position + 1, term: 1, timestampMs }
        })
        const full = create()
        const fullResults = history.map(([bytes], position) => full.apply(bytes, contexts[position]!))
        const prefix = create()
        history.slice(0, split).forEach(([bytes], position) => prefix.apply(bytes, contexts[position]!))
        const restored = create()
        restored.restore(prefix.snapshot())
        const restResults = history
          .slice(split)
          .map(([bytes], offset) => restored.apply(bytes, contexts[split + offset]!))
        expect(restResults).toEqual(fullResults.slice(split))
        expect(restored.snapshot()).toEqual(full.snapshot())
        expect(queries.map((query) => restored.query(query))).toEqual(
          queries.map((query) => full.query(query)),
        )
      },
    ),
    { numRuns: 200 },
  )
}

describe('built-in machines replicate deterministically', () => {
  it('key-value store', () => {
    checkReplication(
      () => kv.create(),
      [kv.encodeQuery('range', { prefix: 'a', limit: 3 }), kv.encodeQuery('get', { key: 'c' })],
      kvCommand,
    )
  })
  it('counter service', () => {
    checkReplication(
      () => counter.create(),
      ['a', 'b', 'c'].map((name) => counter.encodeQuery('get', { name })),
      counterCommand,
    )
  })
  it('lock service', () => {
    checkReplication(
      () => lock.create(),
      ['a', 'b', 'a/x'].map((name) => lock.encodeQuery('get', { name })),
      lockCommand,
    )
  })
})
