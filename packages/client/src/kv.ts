import { expectUint, utf8Encode } from '@socketcloud/core'
import { decodeKvList, decodeRevision } from './core/responses'
import type { KvListResult } from './core/responses'
import { encodeNameSegment, queryString } from './core/names'
import { SocketCloudClientError, isClientError } from './errors'
import { decodeJsonReply } from './requester'
import type { CallOptions, Reply, Requester } from './requester'

export type Consistency = 'linearizable' | 'stale'

export interface ReadOptions extends CallOptions {
  /** `stale` reads the answering node's replica (may lag); default `linearizable`. */
  readonly consistency?: Consistency
}

export interface CompareOptions extends CallOptions {
  /** Apply only if the key's mod revision equals this (0: only if the key is absent). */
  readonly prevRevision?: number
}

export interface ListOptions extends ReadOptions {
  /** Only keys starting with this (default: every key). */
  readonly prefix?: string
  /** At most this many entries (1–10,000; the server's default is 1,000). */
  readonly limit?: number
}

export interface KvValue {
  readonly value: Uint8Array
  /** The key's mod revision: the store revision of its last put. Use it as `prevRevision` for a CAS. */
  readonly revision: number
  readonly createRevision: number
  /** Puts since the key was (re)created. */
  readonly version: number
  /** The store revision the read saw. */
  readonly storeRevision: number
}

export interface WriteResult {
  /** The store revision after the write. */
  readonly revision: number
}

const LIST_LIMIT_MAX = 10_000

function checkRevision(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new SocketCloudClientError('invalid_argument', `${name} must be a non-negative integer`, {
      outcome: 'not_applied',
    })
  }
  return value
}

function consistencyQuery(consistency: Consistency | undefined): string | undefined {
  if (consistency === undefined || consistency === 'linearizable') return undefined
  if (consistency === 'stale') return 'stale'
  throw new SocketCloudClientError('invalid_argument', `consistency must be linearizable or stale`, {
    outcome: 'not_applied',
  })
}

function revisionHeader(reply: Reply, name: string): number {
  const raw = reply.headers.get(name)
  try {
    return expectUint(raw !== null && /^\d+$/.test(raw) ? Number(raw) : raw, name)
  } catch (thrown) {
    throw new SocketCloudClientError('bad_response', `missing or malformed ${name} header: ${String(raw)}`, {
      status: reply.status,
      outcome: 'not_applied',
      endpoint: reply.endpoint,
      cause: thrown,
    })
  }
}

/** The key-value store: `client.kv`. */
export class KvApi {
  constructor(private readonly requester: Requester) {}

  /** Reads a key; `null` when it does not exist. */
  async get(key: string, options: ReadOptions = {}): Promise<KvValue | null> {
    const path = `/v1/kv/${encodeNameSegment(key, 'key')}${queryString({ consistency: consistencyQuery(options.consistency) })}`
    let reply: Reply
    try {
      reply = await this.requester.send({ ...callOptions(options), method: 'GET', path, kind: 'read' })
    } catch (thrown) {
      if (isClientError(thrown, 'not_found') && thrown.status === 404) return null
      throw thrown
    }
    return {
      value: reply.body,
      revision: revisionHeader(reply, 'x-revision'),
      createRevision: revisionHeader(reply, 'x-create-revision'),
      version: revisionHeader(reply, 'x-version'),
      storeRevision: revisionHeader(reply, 'x-store-revision'),
    }
  }

  /**
   * Stores `value` (a string is sent as UTF-8). With `prevRevision` it is a compare-and-set that rejects with
   * `RevisionMismatchError` when the key moved on.
   */
  async put(key: string, value: string | Uint8Array, options: CompareOptions = {}): Promise<WriteResult> {
    const prevRevision = checkRevision(options.prevRevision, 'prevRevision')
    const path = `/v1/kv/${encodeNameSegment(key, 'key')}${queryString({ prev_revision: prevRevision })}`
    const body = typeof value === 'string' ? utf8Encode(value) : value
    if (!(body instanceof Uint8Array)) {
      throw new SocketCloudClientError('invalid_argument', 'value must be a string or a Uint8Array', {
        outcome: 'not_applied',
      })
    }
    const reply = await this.requester.send({
      ...callOptions(options),
      method: 'PUT',
      path,
      body,
      contentType: 'application/octet-stream',
      kind: 'session_write',
    })
    return { revision: decodeJsonReply(reply, (parsed) => decodeRevision(parsed, 'put'), 'applied') }
  }

  /** Deletes a key; `null` when it did not exist. With `prevRevision`, only if the mod revision matches. */
  async delete(key: string, options: CompareOptions = {}): Promise<WriteResult | null> {
    const prevRevision = checkRevision(options.prevRevision, 'prevRevision')
    const path = `/v1/kv/${encodeNameSegment(key, 'key')}${queryString({ prev_revision: prevRevision })}`
    let reply: Reply
    try {
      reply = await this.requester.send({
        ...callOptions(options),
        method: 'DELETE',
        path,
        kind: 'session_write',
      })
    } catch (thrown) {
      if (isClientError(thrown, 'not_found') && thrown.status === 404) return null
      throw thrown
    }
    return { revision: decodeJsonReply(reply, (parsed) => decodeRevision(parsed, 'delete'), 'applied') }
  }

  /** Lists keys under a prefix with their values, in key order, at one store revision. */
  async list(options: ListOptions = {}): Promise<KvListResult> {
    const limit = options.limit
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > LIST_LIMIT_MAX)) {
      throw new SocketCloudClientError(
        'invalid_argument',
        `limit must be an integer in [1, ${LIST_LIMIT_MAX}]`,
        {
          outcome: 'not_applied',
        },
      )
    }
    if (options.prefix !== undefined && typeof options.prefix !== 'string') {
      throw new SocketCloudClientError('invalid_argument', 'prefix must be a string', {
        outcome: 'not_applied',
      })
    }
    const query = queryString({
      prefix: options.prefix,
      limit,
      consistency: consistencyQuery(options.consistency),
    })
    const reply = await this.requester.send({
      ...callOptions(options),
      method: 'GET',
      path: `/v1/kv${query}`,
      kind: 'read',
    })
    return decodeJsonReply(reply, decodeKvList, 'not_applied')
  }
}

/** Copies only the per-call options a request understands (never the caller's other fields). */
export function callOptions(options: CallOptions): CallOptions {
  return { signal: options.signal, timeoutMs: options.timeoutMs }
}
