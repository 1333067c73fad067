/**
 * @packageDocumentation
 * Write-ahead log, hard state and snapshot store on files: checksummed, group-committed. `FileLogStore`
 * and `FileSnapshotStore` implement core's `LogStore` and `SnapshotStore` for the consensus driver.
 *
 * @example
 * ```ts
 * import { FileLogStore, FileSnapshotStore } from '@socketcloud/storage'
 * const log = await FileLogStore.open('/var/lib/socketcloud/wal')
 * const { hardState, entries } = await log.load()
 * await log.write(
 *   { entries: [{ index: entries.length + 1, term: 1, kind: 'command', data: new Uint8Array([1]) }],
 *     hardState: { term: 1, vote: null, commit: 0 } },
 *   { sync: true }, // resolves after fdatasync; concurrent syncs share one
 * )
 * const snapshots = await FileSnapshotStore.open('/var/lib/socketcloud/snapshots')
 * ```
 */
export { FileLogStore, FILE_LOG_DEFAULTS } from './file-log-store'
export type { FileLogStoreInit, FileLogStoreStats, LogRecovery } from './file-log-store'
export { FileSnapshotStore, FILE_SNAPSHOT_DEFAULTS } from './file-snapshot-store'
export type { FileSnapshotStoreInit } from './file-snapshot-store'
export type { LogDamage } from './core/log-replay'
