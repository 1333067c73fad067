import { decodeLockLease, decodeLockReleased, decodeLockState } from './core/responses'
import type { LockLease, LockState } from './core/responses'
import { encodeNameSegment, queryString } from './core/names'
import { checkSafeInteger, checkText, jsonBody } from './json-body'
import { callOptions } from './kv'
import type { ReadOptions } from './kv'
import { decodeJsonReply } from './requester'
import type { CallOptions, Requester } from './requester'

/** Lease lengths the server accepts (API.md). */
export const LOCK_TTL_MS_MAX = 3_600_000
const OWNER_BYTES_MAX = 256

export interface AcquireOptions extends CallOptions {
  /** Who takes the lock (1–256 bytes); acquiring again as the holder renews and keeps the token. */
  readonly owner: string
  /** Lease length in milliseconds of leader log time (1 – 3,600,000). */
  readonly ttlMs: number
}

export interface RenewOptions extends AcquireOptions {
  readonly fencingToken: number
}

export interface ReleaseOptions extends CallOptions {
  readonly owner: string
  readonly fencingToken: number
}

/**
 * Leased locks with fencing tokens: `client.lock`. A token only grows, so a resource that remembers the
 * highest token it has seen can refuse a stale holder. Refusals: `LockHeldError` (code `held`) on acquire,
 * code `not_holder` or `lease_expired` on renew and release.
 */
export class LockApi {
  constructor(private readonly requester: Requester) {}

  async acquire(name: string, options: AcquireOptions): Promise<LockLease> {
    const body = {
      owner: checkText(options.owner, 'owner', OWNER_BYTES_MAX),
      ttl_ms: checkSafeInteger(options.ttlMs, 'ttlMs', 1, LOCK_TTL_MS_MAX),
    }
    return this.post(name, 'acquire', body, options, decodeLockLease)
  }

  async renew(name: string, options: RenewOptions): Promise<LockLease> {
    const body = {
      owner: checkText(options.owner, 'owner', OWNER_BYTES_MAX),
      fencing_token: checkSafeInteger(options.fencingToken, 'fencingToken', 0, Number.MAX_SAFE_INTEGER),
      ttl_ms: checkSafeInteger(options.ttlMs, 'ttlMs', 1, LOCK_TTL_MS_MAX),
    }
    return this.post(name, 'renew', body, options, decodeLockLease)
  }

  async release(name: string, options: ReleaseOptions): Promise<void> {
    const body = {
      owner: checkText(options.owner, 'owner', OWNER_BYTES_MAX),
      fencing_token: checkSafeInteger(options.fencingToken, 'fencingToken', 0, Number.MAX_SAFE_INTEGER),
    }
    return this.post(name, 'release', body, options, decodeLockReleased)
  }

  /** Who holds the lock now, with the server's log time (`now`) to compare `expiresAt` against. */
  async get(name: string, options: ReadOptions = {}): Promise<LockState> {
    const consistency = options.consistency === 'stale' ? 'stale' : undefined
    const reply = await this.requester.send({
      ...callOptions(options),
      method: 'GET',
      path: `/v1/locks/${encodeNameSegment(name, 'name')}${queryString({ consistency })}`,
      kind: 'read',
    })
    return decodeJsonReply(reply, decodeLockState, 'not_applied')
  }

  private async post<T>(
    name: string,
    action: 'acquire' | 'renew' | 'release',
    body: Record<string, unknown>,
    options: CallOptions,
    decode: (body: unknown) => T,
  ): Promise<T> {
    const reply = await this.requester.send({
      ...callOptions(options),
      method: 'POST',
      path: `/v1/locks/${encodeNameSegment(name, 'name')}/${action}`,
      body: jsonBody(body),
      contentType: 'application/json',
      kind: 'session_write',
    })
    return decodeJsonReply(reply, decode, 'applied')
  }
}
