import { StorageError } from '@socketcloud/core'
import type { LogState, LogStore, LogWrite, Snapshot, SnapshotStore } from '@socketcloud/core'
import { LogModel, checkSnapshot, copySnapshot } from './log-model'

function closedError(what: string): StorageError {
  return new StorageError('CLOSED', `${what} is closed`)
}

/**
 * A LogStore in memory, with no crash model: every write is immediately "durable". For unit tests
 * of drivers; use SimDisk when crashes matter. Passes `runLogStoreTests`.
 */
export class MemoryLogStore implements LogStore {
  private readonly model = new LogModel()
  private closed = false

  load(): Promise<LogState> {
    if (this.closed) return Promise.reject(closedError('log store'))
    return Promise.resolve(this.model.state())
  }

  write(update: LogWrite, _options: { readonly sync: boolean }): Promise<void> {
    if (this.closed) return Promise.reject(closedError('log store'))
    try {
      this.model.validate(update)
    } catch (error) {
      return Promise.reject(error)
    }
    this.model.apply(update)
    return Promise.resolve()
  }

  compact(index: number, term: number): Promise<void> {
    if (this.closed) return Promise.reject(closedError('log store'))
    try {
      this.model.compact(index, term)
    } catch (error) {
      return Promise.reject(error)
    }
    return Promise.resolve()
  }

  close(): Promise<void> {
    this.closed = true
    return Promise.resolve()
  }

  /** Reopens a closed store over the same content (what a restart without a crash would see). */
  reopen(): MemoryLogStore {
    this.closed = false
    return this
  }
}

/** A SnapshotStore in memory, with no crash model. Passes `runSnapshotStoreTests`. */
export class MemorySnapshotStore implements SnapshotStore {
  private snapshot: Snapshot | null = null
  private closed = false

  save(snapshot: Snapshot): Promise<void> {
    if (this.closed) return Promise.reject(closedError('snapshot store'))
    try {
      checkSnapshot(snapshot)
    } catch (error) {
      return Promise.reject(error)
    }
    this.snapshot = copySnapshot(snapshot)
    return Promise.resolve()
  }

  load(): Promise<Snapshot | null> {
    if (this.closed) return Promise.reject(closedError('snapshot store'))
    return Promise.resolve(this.snapshot === null ? null : copySnapshot(this.snapshot))
  }

  close(): Promise<void> {
    this.closed = true
    return Promise.resolve()
  }

  reopen(): MemorySnapshotStore {
    this.closed = false
    return this
  }
}
