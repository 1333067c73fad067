import { BytesInParts, StorageError, joinedBytes } from '@socketcloud/core'
import type { HardState, LogEntry, LogState, LogWrite, Snapshot } from '@socketcloud/core'

export function copyEntry(entry: LogEntry): LogEntry {
  return { index: entry.index, term: entry.term, kind: entry.kind, data: entry.data.slice() }
}

export function copyHardState(hardState: HardState): HardState {
  const copy: HardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit }
  return hardState.extra === undefined ? copy : { ...copy, extra: hardState.extra.slice() }
}

export function copySnapshot(snapshot: Snapshot): Snapshot {
  return {
    meta: {
      index: snapshot.meta.index,
      term: snapshot.meta.term,
      membership: snapshot.meta.membership.slice(),
    },
    // Stored whole, as a disk returns it: a snapshot saved in pieces loads as one array.
    data: joinedBytes(snapshot.data).slice(),
  }
}

function checkEntry(entry: LogEntry): void {
  const valid =
    entry !== null &&
    typeof entry === 'object' &&
    Number.isInteger(entry.index) &&
    entry.index >= 1 &&
    Number.isInteger(entry.term) &&
    entry.term >= 0 &&
    (entry.kind === 'command' || entry.kind === 'config' || entry.kind === 'noop') &&
    entry.data instanceof Uint8Array
  if (!valid)
    throw new StorageError('CORRUPT', 'malformed log entry', { index: entry?.index, term: entry?.term })
}

export function checkSnapshot(snapshot: Snapshot): void {
  const meta = snapshot?.meta
  const valid =
    meta !== undefined &&
    Number.isInteger(meta.index) &&
    meta.index >= 0 &&
    Number.isInteger(meta.term) &&
    meta.term >= 0 &&
    meta.membership instanceof Uint8Array &&
    (snapshot.data instanceof Uint8Array || snapshot.data instanceof BytesInParts)
  if (!valid) throw new StorageError('CORRUPT', 'malformed snapshot', { index: meta?.index })
}

/**
 * The content of a LogStore, independent of how it is stored: hard state, entries after the
 * compaction point, and the compaction point. Shared by the memory store and the simulated disk so
 * both implement exactly the same semantics (the ones the compliance suite checks).
 */
export class LogModel {
  hardState: HardState | null = null
  entries: LogEntry[] = []
  compactedIndex = 0
  compactedTerm = 0

  get lastIndex(): number {
    return this.compactedIndex + this.entries.length
  }

  /** Throws StorageError when the write would break contiguity; applies nothing in that case. */
  validate(update: LogWrite): void {
    const entries = update.entries ?? []
    if (update.hardState !== undefined) {
      const { term, commit, vote } = update.hardState
      if (!Number.isInteger(term) || term < 0 || !Number.isInteger(commit) || commit < 0) {
        throw new StorageError('CORRUPT', 'malformed hard state', { term, commit })
      }
      if (vote !== null && typeof vote !== 'string') throw new StorageError('CORRUPT', 'malformed vote', {})
    }
    for (const entry of entries) checkEntry(entry)
    const first = entries[0]
    if (first === undefined) return
    if (first.index <= this.compactedIndex || first.index > this.lastIndex + 1) {
      throw new StorageError('OUT_OF_ORDER', `entries starting at ${first.index} do not attach to the log`, {
        firstIndex: first.index,
        compactedIndex: this.compactedIndex,
        lastIndex: this.lastIndex,
      })
    }
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== first.index + i) {
        throw new StorageError('OUT_OF_ORDER', 'entries of one write must be contiguous', {
          expected: first.index + i,
          got: entries[i]!.index,
        })
      }
    }
  }

  /** Applies a validated write: entries replace any suffix from their first index, then the hard state. */
  apply(update: LogWrite, entriesKept = Number.POSITIVE_INFINITY): void {
    const entries = update.entries ?? []
    const first = entries[0]
    const kept = Math.min(entriesKept, entries.length)
    if (first !== undefined && kept > 0) {
      this.entries.length = first.index - this.compactedIndex - 1
      for (let i = 0; i < kept; i++) this.entries.push(copyEntry(entries[i]!))
    }
    if (update.hardState !== undefined && kept === entries.length)
      this.hardState = copyHardState(update.hardState)
  }

  compact(index: number, term: number): void {
    if (!Number.isInteger(index) || index < 0 || !Number.isInteger(term) || term < 0) {
      throw new StorageError('CORRUPT', 'compact needs a non-negative integer index and term', {
        index,
        term,
      })
    }
    if (index <= this.compactedIndex) return
    const entry = this.entries[index - this.compactedIndex - 1]
    if (entry !== undefined && entry.term === term) {
      this.entries = this.entries.slice(index - this.compactedIndex)
    } else {
      // The snapshot is beyond the log or disagrees with it: the log restarts after the snapshot.
      this.entries = []
    }
    this.compactedIndex = index
    this.compactedTerm = term
  }

  state(): LogState {
    return {
      hardState: this.hardState === null ? null : copyHardState(this.hardState),
      entries: this.entries.map(copyEntry),
      compactedIndex: this.compactedIndex,
      compactedTerm: this.compactedTerm,
    }
  }

  clone(): LogModel {
    const copy = new LogModel()
    copy.hardState = this.hardState === null ? null : copyHardState(this.hardState)
    copy.entries = this.entries.map(copyEntry)
    copy.compactedIndex = this.compactedIndex
    copy.compactedTerm = this.compactedTerm
    return copy
  }
}
