import {
  DecodeError,
  checkLimit,
  expectArray,
  expectBoolean,
  expectRecord,
  expectString,
} from '@socketcloud/core'
import { CommandError, command, defineStateMachine, query } from '@socketcloud/state-machines'

/** One node's addresses, replicated so every member can dial every other and clients find every API. */
export interface DirectoryRecord {
  /** NodeId hex (64 lowercase hex digits). */
  readonly id: string
  /** Node-to-node address, e.g. `tcp://10.0.0.2:7001`. */
  readonly address: string
  /** HTTP API base URL, or null when the node serves none (or it is not known yet). */
  readonly api: string | null
  /**
   * The node was asked to become a voter: whichever node leads promotes it once it has caught up,
   * so a promotion survives a change of leader. @default false
   */
  readonly promote?: boolean
}

export interface MemberDirectoryOptions {
  /** Records held at once; a register that would add one more is refused with LIMIT_EXCEEDED. @default 1024 */
  readonly recordsMax?: number
  /** Longest address or API URL, in characters. @default 2048 */
  readonly addressLengthMax?: number
}

export const MEMBER_DIRECTORY_DEFAULTS = Object.freeze({ recordsMax: 1024, addressLengthMax: 2048 })

interface DirectoryState {
  readonly records: Map<string, DirectoryRecord>
}

const NODE_ID_PATTERN = /^[0-9a-f]{64}$/

export function expectNodeIdHex(value: unknown, path: string): string {
  const id = expectString(value, path, 64)
  if (!NODE_ID_PATTERN.test(id)) {
    throw new DecodeError('INVALID_FIELD', `${path}: expected 64 lowercase hex digits`, { field: path })
  }
  return id
}

/**
 * The member directory: NodeId → { address, api }. Membership itself lives in the consensus engine's
 * configuration; the directory carries what the engine does not — where to reach each node — through
 * the same log, so a node added on one member is dialled by all of them.
 *
 * `register` with `merge: true` (used when founders announce themselves) keeps an existing record
 * and only fills in an API URL that was unknown, so concurrent announcements converge whatever order
 * they commit in; `merge: false` replaces the record (an operator re-adding a node).
 */
export function memberDirectory(options: MemberDirectoryOptions = {}) {
  const recordsMax = checkLimit('recordsMax', options.recordsMax ?? MEMBER_DIRECTORY_DEFAULTS.recordsMax)
  const addressLengthMax = checkLimit(
    'addressLengthMax',
    options.addressLengthMax ?? MEMBER_DIRECTORY_DEFAULTS.addressLengthMax,
  )
  const decodeRecord = (value: unknown, path: string): Required<DirectoryRecord> => {
    const args = expectRecord(value, path)
    const api = args['api']
    return {
      id: expectNodeIdHex(args['id'], `${path}.id`),
      address: expectString(args['address'], `${path}.address`, addressLengthMax),
      api: api === null || api === undefined ? null : expectString(api, `${path}.api`, addressLengthMax),
      promote: expectBoolean(args['promote'] ?? false, `${path}.promote`),
    }
  }

  return defineStateMachine({
    name: 'socketcloud.directory',
    initial: (): DirectoryState => ({ records: new Map() }),
    commands: {
      register: command({
        decode: (value: unknown) => ({
          ...decodeRecord(value, 'register'),
          merge: expectBoolean(expectRecord(value, 'register')['merge'] ?? false, 'register.merge'),
        }),
        apply: (state: DirectoryState, args): { changed: boolean } => {
          const record: DirectoryRecord = {
            id: args.id,
            address: args.address,
            api: args.api,
            promote: args.promote,
          }
          const existing = state.records.get(record.id)
          if (existing === undefined && state.records.size >= recordsMax) {
            throw new CommandError('LIMIT_EXCEEDED', `the directory holds recordsMax (${recordsMax}) records`)
          }
          let next = record
          if (existing !== undefined && args.merge) {
            next = {
              ...existing,
              api: existing.api ?? record.api,
              promote: existing.promote || record.promote,
            }
          }
          const changed =
            existing === undefined ||
            existing.address !== next.address ||
            existing.api !== next.api ||
            existing.promote !== next.promote
          state.records.set(next.id, next)
          return { changed }
        },
      }),
      /** The node became a voter (or should not be promoted any more): clear its promotion request. */
      promoted: command({
        decode: (value: unknown) => ({
          id: expectNodeIdHex(expectRecord(value, 'promoted')['id'], 'promoted.id'),
        }),
        apply: (state: DirectoryState, args): { changed: boolean } => {
          const existing = state.records.get(args.id)
          if (existing === undefined || !existing.promote) return { changed: false }
          state.records.set(args.id, { ...existing, promote: false })
          return { changed: true }
        },
      }),
      remove: command({
        decode: (value: unknown) => ({
          id: expectNodeIdHex(expectRecord(value, 'remove')['id'], 'remove.id'),
        }),
        apply: (state: DirectoryState, args): { removed: boolean } => ({
          removed: state.records.delete(args.id),
        }),
      }),
    },
    queries: {
      list: query({
        decode: (value: unknown) => (expectRecord(value, 'list'), {}),
        run: (state: DirectoryState): { records: DirectoryRecord[] } => ({ records: sortedRecords(state) }),
      }),
    },
    snapshot: (state) =>
      sortedRecords(state).map((record) => [record.id, record.address, record.api, record.promote ?? false]),
    restore: (value): DirectoryState => {
      const records = new Map<string, DirectoryRecord>()
      let previous = ''
      for (const row of expectArray(value, 'directory snapshot', recordsMax)) {
        const [id, address, api, promote] = expectArray(row, 'directory snapshot.record', 4)
        const record = decodeRecord({ id, address, api, promote }, 'directory snapshot.record')
        if (!(previous < record.id)) throw new DecodeError('MALFORMED', 'directory snapshot is not sorted')
        previous = record.id
        records.set(record.id, record)
      }
      return { records }
    },
  })
}

function sortedRecords(state: DirectoryState): DirectoryRecord[] {
  return [...state.records.keys()].sort().map((id) => state.records.get(id)!)
}

export type MemberDirectoryType = ReturnType<typeof memberDirectory>
