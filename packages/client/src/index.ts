/**
 * @packageDocumentation
 * TypeScript client for the SocketCloud node HTTP/WebSocket API: safe retries, failover, typed errors.
 *
 * @example
 * ```ts
 * import { SocketCloudClient, RevisionMismatchError } from '@socketcloud/client'
 *
 * const client = new SocketCloudClient({
 *   endpoints: ['http://127.0.0.1:7070', 'http://127.0.0.1:7071', 'http://127.0.0.1:7072'],
 * })
 * const { revision } = await client.kv.put('config/mode', 'blue')
 * const entry = await client.kv.get('config/mode') // { value: Uint8Array, revision, ... } or null
 * try {
 *   await client.kv.put('config/mode', 'green', { prevRevision: revision - 1 })
 * } catch (error) {
 *   if (error instanceof RevisionMismatchError) console.log('moved on to', error.current)
 * }
 * for await (const event of client.watch('config/', { fromRevision: revision })) console.log(event)
 * ```
 */
export { SocketCloudClient } from './client'
export type { SocketCloudClientInit, RetryInit, WatchInit, Sleep } from './options'
export type { CallOptions } from './requester'
export { KvApi } from './kv'
export type { Consistency, ReadOptions, CompareOptions, ListOptions, KvValue, WriteResult } from './kv'
export { CounterApi } from './counters'
export { LockApi, LOCK_TTL_MS_MAX } from './locks'
export type { AcquireOptions, RenewOptions, ReleaseOptions } from './locks'
export { ClusterApi } from './cluster'
export type { AddMemberOptions } from './cluster'
export { Watch } from './watch'
export type { WatchOptions, WatchLifecycle } from './watch'
export type { WatchEvent } from './core/watch-events'
export type {
  KvEntry,
  KvListResult,
  LockLease,
  LockState,
  ClusterMember,
  ClusterStatus,
  MemberRole,
  MemberState,
  HealthStatus,
} from './core/responses'
export {
  SocketCloudClientError,
  RevisionMismatchError,
  LockHeldError,
  CompactedError,
  isClientError,
} from './errors'
export type { Outcome, ClientErrorCode, ClientErrorDetails } from './errors'
export { backoffDelayMs } from './core/backoff'
export type { BackoffPolicy } from './core/backoff'
export { NAME_BYTES_MAX } from './core/names'
