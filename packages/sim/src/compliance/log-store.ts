import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict'
import { StorageError } from '@socketcloud/core'
import type { HardState, LogEntry, LogStore } from '@socketcloud/core'
import { describe, it } from '@vitest/runner'
import { awaitDirectly, bytesOf, rejection, withSetup } from './harness'
import type { Driver, SetupFunction } from './harness'

/** What `runLogStoreTests` needs: stores opened on one underlying storage, one after another. */
export interface LogStoreHarness {
  /** Opens the store (again): a second `open` after `close` must see what the first one wrote. */
  open(): LogStore | Promise<LogStore>
  /** Lets promises settle: the default awaits; simulated stores pass `(p) => sim.await(p)`. */
  readonly drive?: Driver
  /**
   * Crashes the storage under the open store (power loss: what was not synced may be lost); the
   * next `open` recovers. Required when the suite runs with `{ crash: true }`.
   */
  crash?(): void | Promise<void>
}

export interface LogStoreSuiteOptions {
  /** Also run the crash tests, through `harness.crash()`. @default false */
  readonly crash?: boolean
}

function entry(index: number, term: number, size = 8): LogEntry {
  return { index, term, kind: index === 1 ? 'noop' : 'command', data: bytesOf(size, index * 31 + term) }
}

function entries(from: number, to: number, term: number): LogEntry[] {
  const out: LogEntry[] = []
  for (let index = from; index <= to; index++) out.push(entry(index, term))
  return out
}

function indexTerms(list: readonly LogEntry[]): string[] {
  return list.map((item) => `${item.index}:${item.term}`)
}

/**
 * The LogStore contract (core `storage.ts`), for every implementation: our file WAL, the simulator's
 * stores and users' own. Each test opens a fresh storage through `setup`.
 */
export function runLogStoreTests(
  setup: SetupFunction<LogStoreHarness>,
  title = 'LogStore compliance',
  options: LogStoreSuiteOptions = {},
): void {
  const test = (
    name: string,
    body: (store: LogStore, harness: LogStoreHarness, drive: Driver) => Promise<void>,
  ) =>
    it(name, () =>
      withSetup(setup, async (harness) => {
        const drive = harness.drive ?? awaitDirectly
        const store = await drive(Promise.resolve(harness.open()))
        await body(store, harness, drive)
      }),
    )

  const reopen = async (store: LogStore, harness: LogStoreHarness, drive: Driver): Promise<LogStore> => {
    await drive(store.close())
    return drive(Promise.resolve(harness.open()))
  }

  describe(title, () => {
    test('a fresh store loads empty', async (store, _harness, drive) => {
      const state = await drive(store.load())
      strictEqual(state.hardState, null)
      deepStrictEqual(state.entries, [])
      strictEqual(state.compactedIndex, 0)
      strictEqual(state.compactedTerm, 0)
    })

    test('returns appended entries and the hard state exactly', async (store, _harness, drive) => {
      const hardState: HardState = { term: 3, vote: 'replica-b', commit: 2 }
      await drive(store.write({ hardState, entries: entries(1, 3, 1) }, { sync: true }))
      await drive(store.write({ entries: entries(4, 5, 3) }, { sync: true }))
      const state = await drive(store.load())
      deepStrictEqual(state.hardState, hardState)
      deepStrictEqual(state.entries, [...entries(1, 3, 1), ...entries(4, 5, 3)])
    })

    test('an entry at a stored index replaces it and every entry after it', async (store, _harness, drive) => {
      await drive(store.write({ entries: entries(1, 5, 1) }, { sync: true }))
      await drive(store.write({ entries: entries(3, 4, 2) }, { sync: true }))
      const state = await drive(store.load())
      deepStrictEqual(indexTerms(state.entries), ['1:1', '2:1', '3:2', '4:2'])
      deepStrictEqual(state.entries[2], entry(3, 2))
    })

    test('a write that leaves a gap is rejected with StorageError', async (store, _harness, drive) => {
      await drive(store.write({ entries: entries(1, 2, 1) }, { sync: true }))
      const reason = await rejection(
        drive(store.write({ entries: [entry(4, 1)] }, { sync: true })),
        'gap write',
      )
      ok(reason instanceof StorageError, `expected StorageError, got ${String(reason)}`)
    })

    test('the latest hard state wins, with its optional engine-specific bytes', async (store, _harness, drive) => {
      await drive(store.write({ hardState: { term: 1, vote: 'a', commit: 0 } }, { sync: true }))
      const latest: HardState = { term: 2, vote: null, commit: 0, extra: bytesOf(40, 7) }
      await drive(store.write({ hardState: latest }, { sync: true }))
      deepStrictEqual((await drive(store.load())).hardState, latest)
    })

    test('pipelined writes apply in call order, synced or not', async (store, _harness, drive) => {
      const writes: Promise<void>[] = []
      for (let index = 1; index <= 50; index++) {
        const hardState = { term: 1, vote: null, commit: index - 1 }
        writes.push(store.write({ hardState, entries: [entry(index, 1)] }, { sync: index % 7 === 0 }))
      }
      writes.push(store.write({ entries: entries(40, 45, 2) }, { sync: true }))
      await drive(Promise.all(writes))
      const state = await drive(store.load())
      deepStrictEqual(indexTerms(state.entries), [
        ...indexTerms(entries(1, 39, 1)),
        ...indexTerms(entries(40, 45, 2)),
      ])
      deepStrictEqual(state.hardState, { term: 1, vote: null, commit: 49 })
    })

    test('compact discards entries up to the index and remembers its term', async (store, harness, drive) => {
      await drive(store.write({ entries: entries(1, 10, 2) }, { sync: true }))
      await drive(store.compact(4, 2))
      let state = await drive(store.load())
      strictEqual(state.compactedIndex, 4)
      strictEqual(state.compactedTerm, 2)
      deepStrictEqual(indexTerms(state.entries), indexTerms(entries(5, 10, 2)))
      await drive(store.write({ entries: [entry(11, 3)] }, { sync: true }))
      const reopened = await reopen(store, harness, drive)
      state = await drive(reopened.load())
      strictEqual(state.compactedIndex, 4)
      strictEqual(state.compactedTerm, 2)
      deepStrictEqual(indexTerms(state.entries), [...indexTerms(entries(5, 10, 2)), '11:3'])
    })

    test('compacting past the last entry empties the log, which continues after the snapshot', async (store, _h, drive) => {
      await drive(store.write({ entries: entries(1, 3, 1) }, { sync: true }))
      await drive(store.compact(20, 5))
      let state = await drive(store.load())
      deepStrictEqual(state.entries, [])
      strictEqual(state.compactedIndex, 20)
      strictEqual(state.compactedTerm, 5)
      await drive(store.write({ entries: [entry(21, 5)] }, { sync: true }))
      state = await drive(store.load())
      deepStrictEqual(indexTerms(state.entries), ['21:5'])
    })

    test('a reopened store loads everything written before a clean close', async (store, harness, drive) => {
      const hardState: HardState = { term: 4, vote: 'x', commit: 6 }
      await drive(store.write({ entries: entries(1, 4, 1) }, { sync: false }))
      await drive(store.write({ hardState, entries: entries(5, 6, 4) }, { sync: true }))
      await drive(store.write({ entries: [entry(7, 4)] }, { sync: true }))
      const before = await drive(store.load())
      const reopened = await reopen(store, harness, drive)
      deepStrictEqual(await drive(reopened.load()), before)
    })

    test('carries a large entry intact', async (store, harness, drive) => {
      const large: LogEntry = { index: 1, term: 1, kind: 'command', data: bytesOf(1024 * 1024, 99) }
      await drive(store.write({ entries: [large] }, { sync: true }))
      const reopened = await reopen(store, harness, drive)
      deepStrictEqual((await drive(reopened.load())).entries, [large])
    })

    if (options.crash === true) {
      const crash = async (harness: LogStoreHarness, drive: Driver): Promise<LogStore> => {
        ok(harness.crash !== undefined, 'runLogStoreTests({ crash: true }) needs harness.crash()')
        await harness.crash()
        return drive(Promise.resolve(harness.open()))
      }

      test('a crash keeps every write a resolved sync covered', async (store, harness, drive) => {
        const hardState: HardState = { term: 2, vote: 'b', commit: 3 }
        await drive(store.write({ entries: entries(1, 3, 1) }, { sync: false }))
        await drive(store.write({ hardState, entries: entries(4, 5, 2) }, { sync: true }))
        const unsynced = store.write({ entries: entries(6, 8, 2) }, { sync: false })
        // After a crash the contract says nothing about this promise: it may never settle.
        unsynced.catch(() => undefined)
        const state = await drive((await crash(harness, drive)).load())
        deepStrictEqual(state.hardState, hardState)
        deepStrictEqual(state.entries.slice(0, 5), [...entries(1, 3, 1), ...entries(4, 5, 2)])
        // Unsynced entries may survive, but only as a prefix of what was written, in order.
        deepStrictEqual(state.entries.slice(5), entries(6, 8, 2).slice(0, state.entries.length - 5))
      })

      test('a crash keeps a durable compaction', async (store, harness, drive) => {
        await drive(store.write({ entries: entries(1, 6, 1) }, { sync: true }))
        await drive(store.compact(3, 1))
        const state = await drive((await crash(harness, drive)).load())
        strictEqual(state.compactedIndex, 3)
        deepStrictEqual(indexTerms(state.entries), indexTerms(entries(4, 6, 1)))
      })
    }

    test('loaded state does not alias the store', async (store, _harness, drive) => {
      await drive(store.write({ entries: entries(1, 2, 1) }, { sync: true }))
      const first = await drive(store.load())
      first.entries[0]!.data.fill(0)
      deepStrictEqual((await drive(store.load())).entries, entries(1, 2, 1))
    })
  })
}
