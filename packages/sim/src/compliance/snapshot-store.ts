import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict'
import { BytesInParts, joinedBytes } from '@socketcloud/core'
import type { BytesOrParts, Snapshot, SnapshotStore } from '@socketcloud/core'
import { describe, it } from '@vitest/runner'
import { awaitDirectly, bytesOf, withSetup } from './harness'
import type { Driver, SetupFunction } from './harness'

/** What `runSnapshotStoreTests` needs: stores opened on one underlying storage, one after another. */
export interface SnapshotStoreHarness {
  open(): SnapshotStore | Promise<SnapshotStore>
  readonly drive?: Driver
  /** Crashes the storage under the open store; required when the suite runs with `{ crash: true }`. */
  crash?(): void | Promise<void>
}

export interface SnapshotStoreSuiteOptions {
  /** Also run the crash tests, through `harness.crash()`. @default false */
  readonly crash?: boolean
}

function snapshot(index: number, term: number, size = 256): Snapshot {
  return {
    meta: { index, term, membership: bytesOf(24, index + 1000) },
    data: bytesOf(size, index * 7 + term),
  }
}

function sameBytes(a: BytesOrParts, b: BytesOrParts): boolean {
  return Buffer.from(joinedBytes(a)).equals(Buffer.from(joinedBytes(b)))
}

/** The SnapshotStore contract: atomic, durable saves; `load` returns the newest complete snapshot. */
export function runSnapshotStoreTests(
  setup: SetupFunction<SnapshotStoreHarness>,
  title = 'SnapshotStore compliance',
  options: SnapshotStoreSuiteOptions = {},
): void {
  const test = (
    name: string,
    body: (store: SnapshotStore, harness: SnapshotStoreHarness, drive: Driver) => Promise<void>,
  ) =>
    it(name, () =>
      withSetup(setup, async (harness) => {
        const drive = harness.drive ?? awaitDirectly
        await body(await drive(Promise.resolve(harness.open())), harness, drive)
      }),
    )

  describe(title, () => {
    test('an empty store loads null', async (store, _harness, drive) => {
      strictEqual(await drive(store.load()), null)
    })

    test('loads what was saved', async (store, _harness, drive) => {
      await drive(store.save(snapshot(10, 2)))
      deepStrictEqual(await drive(store.load()), snapshot(10, 2))
    })

    test('loads the newest of several saves, also after reopening', async (store, harness, drive) => {
      await drive(store.save(snapshot(10, 2)))
      await drive(store.save(snapshot(25, 3)))
      deepStrictEqual(await drive(store.load()), snapshot(25, 3))
      await drive(store.close())
      const reopened = await drive(Promise.resolve(harness.open()))
      deepStrictEqual(await drive(reopened.load()), snapshot(25, 3))
    })

    test('a snapshot saved in pieces loads as the same bytes, in one array', async (store, _harness, drive) => {
      const whole = snapshot(12, 3, 48 * 1024)
      const bytes = joinedBytes(whole.data)
      // Uneven pieces, an empty one among them, the way wrapped encoders hand a snapshot over.
      const cuts = [0, 1, 1, 4096, 20_000, bytes.length]
      const pieces = cuts.slice(1).map((end, i) => bytes.slice(cuts[i], end))
      await drive(store.save({ meta: whole.meta, data: new BytesInParts(pieces) }))
      const loaded = await drive(store.load())
      ok(
        loaded !== null && loaded.data instanceof Uint8Array,
        'a snapshot saved in pieces did not load as one array',
      )
      deepStrictEqual(loaded, whole)
    })

    test('concurrent saves leave one whole snapshot, the last one', async (store, _harness, drive) => {
      const first = snapshot(30, 4, 64 * 1024)
      const second = snapshot(31, 4, 64 * 1024)
      await drive(Promise.all([store.save(first), store.save(second)]))
      deepStrictEqual(await drive(store.load()), second)
    })

    test('a load during a save sees the old snapshot or the new one, never a mix', async (store, _harness, drive) => {
      const old = snapshot(5, 1, 128 * 1024)
      const next = snapshot(9, 2, 128 * 1024)
      await drive(store.save(old))
      const saving = store.save(next)
      const during = await drive(store.load())
      ok(during !== null, 'a saved snapshot disappeared during a save')
      ok(
        (during.meta.index === 5 && sameBytes(during.data, old.data)) ||
          (during.meta.index === 9 && sameBytes(during.data, next.data)),
        `load during save returned a mixed snapshot at index ${during.meta.index}`,
      )
      await drive(saving)
      deepStrictEqual(await drive(store.load()), next)
    })

    if (options.crash === true) {
      test('a crash during a save leaves the old snapshot or the new one, whole', async (store, harness, drive) => {
        ok(harness.crash !== undefined, 'runSnapshotStoreTests({ crash: true }) needs harness.crash()')
        const old = snapshot(5, 1, 32 * 1024)
        const next = snapshot(9, 2, 32 * 1024)
        await drive(store.save(old))
        // After a crash the contract says nothing about this promise: it may never settle.
        store.save(next).catch(() => undefined)
        await harness.crash()
        const recovered = await drive((await drive(Promise.resolve(harness.open()))).load())
        ok(recovered !== null, 'a durable snapshot was lost by a crash')
        ok(
          (recovered.meta.index === 5 && sameBytes(recovered.data, old.data)) ||
            (recovered.meta.index === 9 && sameBytes(recovered.data, next.data)),
          `recovered a mixed snapshot at index ${recovered.meta.index}`,
        )
      })

      test('a crash after a save resolved keeps that snapshot', async (store, harness, drive) => {
        ok(harness.crash !== undefined, 'runSnapshotStoreTests({ crash: true }) needs harness.crash()')
        await drive(store.save(snapshot(12, 3)))
        await harness.crash()
        deepStrictEqual(await drive((await drive(Promise.resolve(harness.open()))).load()), snapshot(12, 3))
      })
    }

    test('carries a large snapshot intact', async (store, _harness, drive) => {
      const large = snapshot(100, 9, 4 * 1024 * 1024)
      await drive(store.save(large))
      deepStrictEqual(await drive(store.load()), large)
    })
  })
}
