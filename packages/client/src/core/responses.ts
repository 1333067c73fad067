import {
  DecodeError,
  expectArray,
  expectBoolean,
  expectInt,
  expectNumber,
  expectOneOf,
  expectRecord,
  expectString,
  expectUint,
} from '@socketcloud/core'

/**
 * Decoders for every JSON answer in API.md. Each takes the parsed body (untrusted) and returns a typed value
 * or throws core's DecodeError naming the field; the HTTP layer turns that into a `bad_response` error.
 */

const STRING_CHARS_MAX = 1 << 20
const KVS_MAX = 10_000
const MEMBERS_MAX = 10_000

export interface KvEntry {
  readonly key: string
  readonly value: Uint8Array
  /** The key's mod revision (the store revision of its last put). */
  readonly revision: number
  readonly createRevision: number
  /** Number of puts since the key was (re)created. */
  readonly version: number
}

export interface KvListResult {
  /** Store revision the list was read at; a watch from `revision + 1` continues it without a gap. */
  readonly revision: number
  readonly kvs: readonly KvEntry[]
  /** True when more keys matched than `limit`. */
  readonly more: boolean
}

export interface LockLease {
  readonly fencingToken: number
  /** Leader log time, ms since the Unix epoch. */
  readonly expiresAt: number
}

export interface LockState {
  readonly holder: string | null
  readonly fencingToken: number | null
  readonly expiresAt: number | null
  /** The server's log time when it answered, to compare with `expiresAt`. */
  readonly now: number
}

export type MemberRole = 'voter' | 'learner'
export type MemberState = 'alive' | 'suspect' | 'dead' | 'self'

export interface ClusterMember {
  readonly id: string
  readonly address: string
  readonly api: string | null
  readonly role: MemberRole
  readonly state: MemberState
  readonly phi: number | null
  readonly leader: boolean
}

export interface ClusterStatus {
  /** The answering node's id (hex). */
  readonly id: string
  readonly leader: string | null
  readonly term: number
  readonly commitIndex: number
  readonly appliedIndex: number
  readonly members: readonly ClusterMember[]
}

export interface HealthStatus {
  readonly status: string
  readonly id: string
  readonly role: string
  readonly leader: string | null
}

export interface ErrorBody {
  readonly error: string
  readonly message: string | undefined
  readonly outcome: 'applied' | 'not_applied' | 'unknown' | undefined
  readonly fields: Readonly<Record<string, unknown>>
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Strict base64 (standard alphabet, padded): a lenient decoder would turn garbage into wrong bytes. */
export function expectBase64(value: unknown, path: string): Uint8Array {
  const text = expectString(value, path, Number.MAX_SAFE_INTEGER)
  if (!BASE64.test(text)) {
    throw new DecodeError('INVALID_FIELD', `${path}: expected base64`, { field: path, expected: 'base64' })
  }
  const buffer = Buffer.from(text, 'base64')
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

function nullable<T>(value: unknown, read: (value: unknown) => T): T | null {
  return value === null ? null : read(value)
}

export function decodeRevision(body: unknown, what: string): number {
  return expectUint(expectRecord(body, what).revision, `${what}.revision`)
}

export function decodeKvList(body: unknown): KvListResult {
  const record = expectRecord(body, 'list')
  const kvs = expectArray(record.kvs, 'list.kvs', KVS_MAX).map((item, index): KvEntry => {
    const path = `list.kvs[${index}]`
    const entry = expectRecord(item, path)
    return {
      key: expectString(entry.key, `${path}.key`, STRING_CHARS_MAX),
      value: expectBase64(entry.value, `${path}.value`),
      revision: expectUint(entry.mod_revision, `${path}.mod_revision`),
      createRevision: expectUint(entry.create_revision, `${path}.create_revision`),
      version: expectUint(entry.version, `${path}.version`),
    }
  })
  return {
    revision: expectUint(record.revision, 'list.revision'),
    kvs,
    more: expectBoolean(record.more, 'list.more'),
  }
}

export function decodeCounterValue(body: unknown): number {
  return expectInt(expectRecord(body, 'counter').value, 'counter.value')
}

export function decodeLockLease(body: unknown): LockLease {
  const record = expectRecord(body, 'lock')
  return {
    fencingToken: expectUint(record.fencing_token, 'lock.fencing_token'),
    expiresAt: expectUint(record.expires_at, 'lock.expires_at'),
  }
}

export function decodeLockReleased(body: unknown): void {
  if (expectBoolean(expectRecord(body, 'release').released, 'release.released') !== true) {
    throw new DecodeError('INVALID_FIELD', 'release.released: expected true', { field: 'release.released' })
  }
}

export function decodeLockState(body: unknown): LockState {
  const record = expectRecord(body, 'lock')
  return {
    holder: nullable(record.holder, (value) => expectString(value, 'lock.holder', STRING_CHARS_MAX)),
    fencingToken: nullable(record.fencing_token, (value) => expectUint(value, 'lock.fencing_token')),
    expiresAt: nullable(record.expires_at, (value) => expectUint(value, 'lock.expires_at')),
    now: expectUint(record.now, 'lock.now'),
  }
}

export function decodeClusterStatus(body: unknown): ClusterStatus {
  const record = expectRecord(body, 'cluster')
  const members = expectArray(record.members, 'cluster.members', MEMBERS_MAX).map(
    (item, index): ClusterMember => {
      const path = `cluster.members[${index}]`
      const member = expectRecord(item, path)
      return {
        id: expectString(member.id, `${path}.id`, STRING_CHARS_MAX),
        address: expectString(member.address, `${path}.address`, STRING_CHARS_MAX),
        api: nullable(member.api ?? null, (value) => expectString(value, `${path}.api`, STRING_CHARS_MAX)),
        role: expectOneOf(member.role, `${path}.role`, ['voter', 'learner'] as const),
        state: expectOneOf(member.state, `${path}.state`, ['alive', 'suspect', 'dead', 'self'] as const),
        phi: nullable(member.phi ?? null, (value) => expectNumber(value, `${path}.phi`)),
        leader: expectBoolean(member.leader, `${path}.leader`),
      }
    },
  )
  return {
    id: expectString(record.id, 'cluster.id', STRING_CHARS_MAX),
    leader: nullable(record.leader, (value) => expectString(value, 'cluster.leader', STRING_CHARS_MAX)),
    term: expectUint(record.term, 'cluster.term'),
    commitIndex: expectUint(record.commit_index, 'cluster.commit_index'),
    appliedIndex: expectUint(record.applied_index, 'cluster.applied_index'),
    members,
  }
}

export function decodeAddMember(body: unknown): { id: string; role: MemberRole } {
  const record = expectRecord(body, 'member')
  return {
    id: expectString(record.id, 'member.id', STRING_CHARS_MAX),
    role: expectOneOf(record.role, 'member.role', ['voter', 'learner'] as const),
  }
}

export function decodeRemoved(body: unknown): string {
  return expectString(expectRecord(body, 'removal').removed, 'removal.removed', STRING_CHARS_MAX)
}

export function decodeLeader(body: unknown): string {
  return expectString(expectRecord(body, 'transfer').leader, 'transfer.leader', STRING_CHARS_MAX)
}

export function decodeSessionId(body: unknown): string {
  const id = expectString(expectRecord(body, 'session').session_id, 'session.session_id', 1024)
  if (id.length === 0)
    throw new DecodeError('INVALID_FIELD', 'session.session_id: empty', { field: 'session_id' })
  return id
}

export function decodeHealth(body: unknown): HealthStatus {
  const record = expectRecord(body, 'health')
  return {
    status: expectString(record.status, 'health.status', STRING_CHARS_MAX),
    id: expectString(record.id, 'health.id', STRING_CHARS_MAX),
    role: expectString(record.role, 'health.role', STRING_CHARS_MAX),
    leader: nullable(record.leader ?? null, (value) =>
      expectString(value, 'health.leader', STRING_CHARS_MAX),
    ),
  }
}

/** The `{"error", "message", "outcome", ...}` body every failure carries. */
export function decodeErrorBody(body: unknown): ErrorBody {
  const record = expectRecord(body, 'error body')
  const { error, message, outcome, ...fields } = record
  return {
    error: expectString(error, 'error body.error', 256),
    message:
      message === undefined || message === null
        ? undefined
        : expectString(message, 'error body.message', STRING_CHARS_MAX),
    outcome:
      outcome === undefined || outcome === null
        ? undefined
        : expectOneOf(outcome, 'error body.outcome', ['applied', 'not_applied', 'unknown'] as const),
    fields,
  }
}
