import {
  DecodeError,
  checkLimit,
  type BytesInParts,
  expectArray,
  expectBytes,
  expectRecord,
  expectUint,
} from '@socketcloud/core'
import { CommandError } from '../command-error'
import { command, defineStateMachine, query } from '../define'
import type { MachineLimits, StateCapture } from '../define'
import { expectBoundedString } from '../limits'
import { StepwiseRowsEncoder, decodeRows } from './snapshot-rows'
import { SortedKeys } from './sorted-keys'

/** One key as stored, with etcd-style revisions. */
export interface KeyValue {
  readonly key: string
  readonly value: Uint8Array
  /** Global revision of the put that created the key (since it last did not exist). */
  readonly createRevision: number
  /** Global revision of the last change to the key. */
  readonly modRevision: number
  /** Number of puts since the key was created: 1 after the creating put. */
  readonly version: number
}

export interface KeyValueOptions extends MachineLimits {
  /** @default 4096 */
  readonly keyBytesMax?: number
  /** @default 1 MiB */
  readonly valueBytesMax?: number
  /** Keys held at once; a put that would create one more is refused with LIMIT_EXCEEDED. @default 1,000,000 */
  readonly keysMax?: number
  /** Largest `limit` a range query may ask for. @default 10,000 */
  readonly rangeLimitMax?: number
}

export const KEY_VALUE_DEFAULTS = Object.freeze({
  keyBytesMax: 4096,
  valueBytesMax: 1024 * 1024,
  keysMax: 1_000_000,
  rangeLimitMax: 10_000,
})

interface KeyValueState {
  /** Incremented by every change; the revision of the latest change. 0 before the first. */
  revision: number
  readonly keys: Map<string, KeyValue>
  /** The keys in code-unit order, maintained on create and delete so ranges are cheap. */
  readonly sorted: SortedKeys
  /**
   * While a snapshot capture is open: the record each key had when it was taken, saved on the key's
   * first change after it (copy-on-write), so the capture reads the store as it was. Null otherwise.
   */
  preserved: Map<string, KeyValue> | null
}

/** Rows encoded per capture step: about a millisecond of work for 100-byte values on an idle core. */
const CAPTURE_ROWS_PER_STEP = 512

export interface PutResult {
  readonly revision: number
  readonly created: boolean
}
export interface DeleteResult {
  readonly revision: number
  readonly deleted: boolean
}
export interface CompareAndSetResult {
  readonly succeeded: boolean
  readonly revision: number
  /** The key after the operation (on success) or as found (on failure); null when absent. */
  readonly current: KeyValue | null
}
export interface GetResult {
  readonly revision: number
  readonly kv: KeyValue | null
}
export interface RangeResult {
  readonly revision: number
  readonly kvs: KeyValue[]
  /** More keys match the prefix than `limit` returned. */
  readonly more: boolean
}

function setKey(state: KeyValueState, key: string, value: Uint8Array): KeyValue {
  const revision = state.revision + 1
  const previous = state.keys.get(key)
  if (previous !== undefined) preserve(state, previous)
  const next: KeyValue =
    previous === undefined
      ? { key, value, createRevision: revision, modRevision: revision, version: 1 }
      : {
          key,
          value,
          createRevision: previous.createRevision,
          modRevision: revision,
          version: previous.version + 1,
        }
  if (previous === undefined) state.sorted.insert(key)
  state.keys.set(key, next)
  state.revision = revision
  return next
}

/**
 * An encoder of the rows of `chunks` (sorted key chunks: the live index or a frozen view of it),
 * reading each key's record with `rowOf`.
 */
function rowsEncoder(
  chunks: readonly (readonly string[])[],
  count: number,
  rowOf: (name: string) => KeyValue,
): StepwiseRowsEncoder {
  let chunk = 0
  let at = 0
  return new StepwiseRowsEncoder(count, () => {
    while (at >= chunks[chunk]!.length) {
      chunk++
      at = 0
    }
    return rowOf(chunks[chunk]![at++]!)
  })
}

/** The store's rows in key order, encoded straight from its index in one go. */
function encodeState(state: KeyValueState): BytesInParts {
  const { chunks, size } = state.sorted.view()
  return rowsEncoder(chunks, size, (name) => state.keys.get(name)!).step(size)!
}

/** Keeps `previous` for an open capture if this is its key's first change since the capture. */
function preserve(state: KeyValueState, previous: KeyValue): void {
  if (state.preserved !== null && !state.preserved.has(previous.key)) {
    state.preserved.set(previous.key, previous)
  }
}

/**
 * Fixes the store as it is now for a snapshot encoded in steps: the key index is frozen by
 * copy-on-write chunks, and each record changed afterwards is kept in `preserved` on its first change.
 */
function captureState(state: KeyValueState): StateCapture {
  const frozen = state.sorted.freeze()
  const preserved = new Map<string, KeyValue>()
  state.preserved = preserved
  const revision = state.revision
  const encoder = rowsEncoder(
    frozen.chunks,
    frozen.size,
    (name) => preserved.get(name) ?? state.keys.get(name)!,
  )
  let open = true
  const release = (): void => {
    if (!open) return
    open = false
    if (state.preserved === preserved) state.preserved = null
    state.sorted.thaw()
  }
  return {
    step: () => {
      const rows = encoder.step(CAPTURE_ROWS_PER_STEP)
      if (rows === null) return null
      release()
      return { value: [revision, rows] }
    },
    release,
  }
}

function deleteKey(state: KeyValueState, key: string): boolean {
  const previous = state.keys.get(key)
  if (previous === undefined) return false
  preserve(state, previous)
  state.keys.delete(key)
  state.sorted.remove(key)
  state.revision++
  return true
}

/**
 * The key-value store: string keys, byte values, a global revision that every change increments, and
 * per key the revision that created it, the revision that last changed it and its version — the
 * model etcd uses, so compare-and-set on `modRevision` gives optimistic concurrency.
 */
export function keyValueStore(options: KeyValueOptions = {}) {
  const keyBytesMax = checkLimit('keyBytesMax', options.keyBytesMax ?? KEY_VALUE_DEFAULTS.keyBytesMax)
  const valueBytesMax = checkLimit(
    'valueBytesMax',
    options.valueBytesMax ?? KEY_VALUE_DEFAULTS.valueBytesMax,
    0,
  )
  const keysMax = checkLimit('keysMax', options.keysMax ?? KEY_VALUE_DEFAULTS.keysMax)
  const rangeLimitMax = checkLimit('rangeLimitMax', options.rangeLimitMax ?? KEY_VALUE_DEFAULTS.rangeLimitMax)

  const key = (value: unknown, path: string) => expectBoundedString(value, path, keyBytesMax)
  const bytes = (value: unknown, path: string): Uint8Array =>
    Uint8Array.from(expectBytes(value, path, valueBytesMax))
  const checkRoom = (state: KeyValueState, name: string) => {
    if (!state.keys.has(name) && state.keys.size >= keysMax) {
      throw new CommandError('LIMIT_EXCEEDED', `the store holds keysMax (${keysMax}) keys`, { keysMax })
    }
  }

  return defineStateMachine(
    {
      name: 'socketcloud.kv',
      initial: (): KeyValueState => ({
        revision: 0,
        keys: new Map(),
        sorted: new SortedKeys(),
        preserved: null,
      }),
      commands: {
        put: command({
          decode: (value: unknown) => {
            const args = expectRecord(value, 'put')
            return { key: key(args['key'], 'put.key'), value: bytes(args['value'], 'put.value') }
          },
          apply: (state: KeyValueState, args): PutResult => {
            checkRoom(state, args.key)
            const created = !state.keys.has(args.key)
            setKey(state, args.key, args.value)
            return { revision: state.revision, created }
          },
        }),
        delete: command({
          decode: (value: unknown) => ({ key: key(expectRecord(value, 'delete')['key'], 'delete.key') }),
          apply: (state: KeyValueState, args): DeleteResult => ({
            deleted: deleteKey(state, args.key),
            revision: state.revision,
          }),
        }),
        /**
         * Writes `value` (or deletes, when null) only if the key's modRevision equals
         * `expectedModRevision`; 0 means "only if the key does not exist".
         */
        compareAndSet: command({
          decode: (value: unknown) => {
            const args = expectRecord(value, 'compareAndSet')
            const next = args['value']
            return {
              key: key(args['key'], 'compareAndSet.key'),
              expectedModRevision: expectUint(
                args['expectedModRevision'],
                'compareAndSet.expectedModRevision',
              ),
              value: next === null ? null : bytes(next, 'compareAndSet.value'),
            }
          },
          apply: (state: KeyValueState, args): CompareAndSetResult => {
            const found = state.keys.get(args.key) ?? null
            if ((found?.modRevision ?? 0) !== args.expectedModRevision) {
              return { succeeded: false, revision: state.revision, current: found }
            }
            if (args.value === null) {
              if (found !== null) deleteKey(state, args.key)
              return { succeeded: true, revision: state.revision, current: null }
            }
            checkRoom(state, args.key)
            const current = setKey(state, args.key, args.value)
            return { succeeded: true, revision: state.revision, current }
          },
        }),
      },
      queries: {
        get: query({
          decode: (value: unknown) => ({ key: key(expectRecord(value, 'get')['key'], 'get.key') }),
          run: (state: KeyValueState, args): GetResult => ({
            revision: state.revision,
            kv: state.keys.get(args.key) ?? null,
          }),
        }),
        /** Keys starting with `prefix`, in code-unit order, at most `limit` of them. */
        range: query({
          decode: (value: unknown) => {
            const args = expectRecord(value, 'range')
            return {
              prefix: key(args['prefix'] ?? '', 'range.prefix'),
              limit: expectUint(args['limit'], 'range.limit', rangeLimitMax),
            }
          },
          run: (state: KeyValueState, args): RangeResult => {
            const kvs: KeyValue[] = []
            let more = false
            for (const name of state.sorted.from(args.prefix)) {
              if (!name.startsWith(args.prefix)) break
              if (kvs.length === args.limit) {
                more = true
                break
              }
              kvs.push(state.keys.get(name)!)
            }
            return { revision: state.revision, kvs, more }
          },
        }),
      },
      snapshot: (state) => [state.revision, encodeState(state)],
      captureSnapshot: captureState,
      restore: (value): KeyValueState => {
        const [revisionValue, rows] = expectArray(value, 'kv snapshot', 2)
        const revision = expectUint(revisionValue, 'kv snapshot.revision')
        const state: KeyValueState = {
          revision,
          keys: new Map(),
          sorted: new SortedKeys(),
          preserved: null,
        }
        if (rows instanceof Uint8Array) {
          const checkKey = (name: string): string => key(name, 'kv snapshot.key.name')
          for (const kv of decodeRows(rows, { checkKey, valueBytesMax, revision })) {
            state.keys.set(kv.key, kv)
            state.sorted.append(kv.key)
          }
          return state
        }
        // Snapshots written before the rows became one byte string: an array of 5-element rows.
        let previous: string | null = null
        for (const row of expectArray(rows, 'kv snapshot.keys', Number.MAX_SAFE_INTEGER)) {
          const [name, data, createRevision, modRevision, version] = expectArray(row, 'kv snapshot.key', 5)
          const kv: KeyValue = {
            key: key(name, 'kv snapshot.key.name'),
            value: Uint8Array.from(expectBytes(data, 'kv snapshot.key.value', valueBytesMax)),
            createRevision: expectUint(createRevision, 'kv snapshot.key.createRevision', revision),
            modRevision: expectUint(modRevision, 'kv snapshot.key.modRevision', revision),
            version: expectUint(version, 'kv snapshot.key.version'),
          }
          if (previous !== null && !(previous < kv.key)) {
            throw new DecodeError('MALFORMED', 'kv snapshot keys are not strictly sorted')
          }
          previous = kv.key
          state.keys.set(kv.key, kv)
          state.sorted.append(kv.key)
        }
        return state
      },
    },
    options,
  )
}

export type KeyValueMachineType = ReturnType<typeof keyValueStore>
