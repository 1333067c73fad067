import type { HardState, LogEntry } from '@socketcloud/core'
import { StorageError, assert } from '@socketcloud/core'
import type { CompactionRecord } from './log-records'

/**
 * The logical content of the log: compaction point, hard state and the terms of the live entries,
 * plus the segment each live entry was written to (so compaction knows which segment files still
 * hold live entries). The store runs every write through it synchronously, in call order, and replay
 * runs every record through it, so both reach the same state by the same rules.
 *
 * Replay may start from a segment whose earlier segments were deleted: entries between the
 * compaction point and `knownFrom` are then a hole (known to exist, not held). A later compaction
 * record covers the hole; a hole left uncovered means a segment file is missing.
 */
export class LogModel {
  compactedIndex: number
  compactedTerm: number
  hardState: HardState | null
  private knownFrom: number
  private readonly terms: number[] = []
  private readonly segments: number[] = []
  /** Present only when the model keeps entry data (replay); the live store keeps terms only. */
  private entries: LogEntry[] | null

  constructor(
    start: { compactedIndex: number; compactedTerm: number; lastIndex: number; hardState: HardState | null },
    keepEntries: boolean,
  ) {
    assert(start.lastIndex >= start.compactedIndex, 'last index below compaction point')
    this.compactedIndex = start.compactedIndex
    this.compactedTerm = start.compactedTerm
    this.hardState = start.hardState
    this.knownFrom = start.lastIndex + 1
    this.entries = keepEntries ? [] : null
  }

  get lastIndex(): number {
    return this.knownFrom + this.terms.length - 1
  }

  get lastTerm(): number {
    return this.terms.length > 0 ? this.terms[this.terms.length - 1]! : this.compactedTerm
  }

  get hasHole(): boolean {
    return this.knownFrom > this.compactedIndex + 1
  }

  /** Term of a live entry, the compaction point's term, or undefined (compacted away, in the hole, or beyond). */
  termAt(index: number): number | undefined {
    if (index === this.compactedIndex) return this.compactedTerm
    if (index < this.knownFrom || index > this.lastIndex) return undefined
    return this.terms[index - this.knownFrom]
  }

  /** Segment holding the oldest live entry, or undefined when no entry is live. */
  get oldestLiveSegment(): number | undefined {
    return this.segments[0]
  }

  /** Throws StorageError(OUT_OF_ORDER) unless `entries` may be appended by the LogStore contract. */
  checkAppend(entries: readonly LogEntry[]): void {
    const first = entries[0]
    if (first === undefined) return
    if (first.index <= this.compactedIndex || first.index > this.lastIndex + 1) {
      throw new StorageError(
        'OUT_OF_ORDER',
        `entry ${first.index} cannot follow the log (compacted through ${this.compactedIndex}, last ${this.lastIndex})`,
        { index: first.index, compactedIndex: this.compactedIndex, lastIndex: this.lastIndex },
      )
    }
  }

  /** Appends one entry, replacing any stored entry at its index and everything after it. */
  append(entry: LogEntry, segment: number): void {
    if (entry.index === this.lastIndex + 1 && entry.index > this.compactedIndex) {
      this.terms.push(entry.term)
      this.segments.push(segment)
      this.entries?.push(entry)
      return
    }
    assert(entry.index > this.compactedIndex, 'append below the compaction point')
    assert(entry.index <= this.lastIndex + 1, 'append leaves a gap')
    if (entry.index < this.knownFrom) {
      this.knownFrom = entry.index
      this.terms.length = 0
      this.segments.length = 0
      if (this.entries !== null) this.entries.length = 0
    } else {
      const keep = entry.index - this.knownFrom
      this.terms.length = keep
      this.segments.length = keep
      if (this.entries !== null) this.entries.length = keep
    }
    this.terms.push(entry.term)
    this.segments.push(segment)
    this.entries?.push(entry)
    assert(this.lastIndex === entry.index, 'append did not end at the entry')
  }

  /**
   * Decides how `compact(index, term)` changes the log: when the entry at `index` has `term` the
   * suffix after it stays; otherwise (the log diverged from the snapshot, or ends before `index`) every
   * entry goes, as Raft's InstallSnapshot requires. Returns null when `index` is already compacted.
   */
  planCompaction(index: number, term: number): CompactionRecord | null {
    if (index <= this.compactedIndex) return null
    return { index, term, keepSuffix: this.termAt(index) === term }
  }

  applyCompaction(record: CompactionRecord): void {
    // An equal index still matters when it drops the suffix: replay may have applied the durable
    // compaction floor (the log's meta file) before reaching this record.
    if (record.index < this.compactedIndex) return
    if (record.index === this.compactedIndex && record.keepSuffix) return
    if (record.keepSuffix && record.index <= this.lastIndex) {
      const drop = Math.max(0, record.index - this.knownFrom + 1)
      this.terms.splice(0, drop)
      this.segments.splice(0, drop)
      this.entries?.splice(0, drop)
      this.knownFrom = Math.max(this.knownFrom, record.index + 1)
    } else {
      this.terms.length = 0
      this.segments.length = 0
      if (this.entries !== null) this.entries.length = 0
      this.knownFrom = record.index + 1
    }
    this.compactedIndex = record.index
    this.compactedTerm = record.term
  }

  /**
   * Replay of an entry record at or below the compaction point: when it was written it replaced every
   * entry after it, so none of the live entries replayed so far survived it (the durable compaction
   * floor is applied before a segment's records, which is how such a record comes to sit below it).
   */
  discardLiveEntries(): void {
    this.terms.length = 0
    this.segments.length = 0
    if (this.entries !== null) this.entries.length = 0
    this.knownFrom = this.compactedIndex + 1
  }

  /** Forgets entry data once the store has handed it out; the model keeps only terms and segments. */
  dropEntryData(): void {
    this.entries = null
  }

  /** Live entries with their data (replay models only). */
  liveEntries(): LogEntry[] {
    assert(this.entries !== null, 'model does not keep entries')
    return this.entries.slice()
  }
}
