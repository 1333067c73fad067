import { assert, type LogEntry } from '@socketcloud/core'

/**
 * The engine's view of its log: a compaction point (the snapshot's index and term) followed by
 * contiguous entries. It tracks which suffix is not yet persisted (`stableIndex`), what is known
 * committed, and what has been handed to the driver for applying. Storage itself is the driver's.
 */
export class RaftLog {
  private entries: LogEntry[]
  private offset: number
  private snapshotTerm: number
  /** Highest index handed to the driver for persisting (entries above it are in the next Ready). */
  stableIndex: number
  /**
   * Highest index the driver confirmed durable (`advance`) and not truncated since; at most
   * `stableIndex`. A leader counts its own copy toward a commit quorum only up to here.
   */
  durableIndex: number
  committed: number
  /** Highest index handed to the driver in `Ready.committed` (or covered by a snapshot). */
  applied: number

  constructor(snapshotIndex: number, snapshotTerm: number, entries: readonly LogEntry[], applied: number) {
    this.offset = snapshotIndex
    this.snapshotTerm = snapshotTerm
    this.entries = []
    for (const entry of entries) {
      if (entry.index <= snapshotIndex) continue
      assert(entry.index === this.offset + this.entries.length + 1, 'restored entries must be contiguous')
      this.entries.push(entry)
    }
    this.stableIndex = this.lastIndex()
    this.durableIndex = this.stableIndex
    this.committed = snapshotIndex
    this.applied = Math.max(snapshotIndex, applied)
  }

  snapshotIndex(): number {
    return this.offset
  }

  firstIndex(): number {
    return this.offset + 1
  }

  lastIndex(): number {
    return this.offset + this.entries.length
  }

  lastTerm(): number {
    return this.entries.length === 0 ? this.snapshotTerm : this.entries[this.entries.length - 1]!.term
  }

  /** Term at `index`; undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.offset) return this.snapshotTerm
    if (index < this.offset || index > this.lastIndex()) return undefined
    return this.entries[index - this.offset - 1]!.term
  }

  entry(index: number): LogEntry | undefined {
    if (index <= this.offset || index > this.lastIndex()) return undefined
    return this.entries[index - this.offset - 1]
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term
  }

  /** §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm()
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex())
  }

  /** Appends after the last entry (leader path). */
  append(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, 'appended entries must follow the last index')
      this.entries.push(entry)
    }
  }

  /**
   * Follower path: appends `entries` that follow (prevIndex, prevTerm), truncating a conflicting
   * suffix. Returns the index of the last new entry, or null when prevIndex does not match.
   */
  maybeAppend(prevIndex: number, prevTerm: number, entries: readonly LogEntry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null
    const lastNew = prevIndex + entries.length
    const lastIndex = this.lastIndex()
    for (let position = 0; position < entries.length; position++) {
      const entry = entries[position]!
      if (entry.index <= this.offset) continue
      if (entry.index <= lastIndex && this.term(entry.index) === entry.term) continue
      // First conflict (or first new entry): everything from here on is replaced.
      if (entry.index <= lastIndex) {
        assert(entry.index > this.committed, 'a committed entry can never conflict')
        this.truncateFrom(entry.index)
      }
      for (let rest = position; rest < entries.length; rest++) this.entries.push(entries[rest]!)
      break
    }
    return lastNew
  }

  private truncateFrom(index: number): void {
    if (index <= this.lastIndex()) this.entries.length = index - this.offset - 1
    if (this.stableIndex >= index) this.stableIndex = index - 1
    if (this.durableIndex >= index) this.durableIndex = index - 1
  }

  /**
   * The first index of the term of the entry at `index` or an earlier entry whose term is at most
   * `term` — the fast back-off search: returns the largest i ≤ index with term(i) ≤ term.
   */
  findConflictByTerm(index: number, term: number): number {
    let position = Math.min(index, this.lastIndex())
    while (position > this.offset) {
      const at = this.term(position)!
      if (at <= term) return position
      position--
    }
    return position
  }

  /** Entries in [low, high], at most `countMax` and `bytesMax` bytes (always at least one). */
  slice(low: number, high: number, countMax: number, bytesMax: number): LogEntry[] {
    assert(low > this.offset, 'slice below the compaction point')
    const out: LogEntry[] = []
    let bytes = 0
    for (let index = low; index <= high && out.length < countMax; index++) {
      const entry = this.entries[index - this.offset - 1]!
      bytes += entry.data.length
      if (out.length > 0 && bytes > bytesMax) break
      out.push(entry)
    }
    return out
  }

  unstableEntries(): LogEntry[] {
    return this.entries.slice(this.stableIndex - this.offset)
  }

  /** The driver persisted through `index` whose term was `term` (ignored if since truncated). */
  stableTo(index: number, term: number): void {
    if (index > this.stableIndex && this.term(index) === term) this.stableIndex = index
  }

  /** The driver made the write through `index` (whose term was `term`) durable; ignored if since replaced. */
  durableTo(index: number, term: number): void {
    if (index > this.durableIndex && index <= this.stableIndex && this.term(index) === term) {
      this.durableIndex = index
    }
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false
    assert(index <= this.lastIndex(), 'commit index beyond the last entry')
    this.committed = index
    return true
  }

  /** Committed entries not yet handed out, at most `countMax`. */
  nextCommitted(countMax: number): LogEntry[] {
    const high = Math.min(this.committed, this.applied + countMax)
    if (high <= this.applied) return []
    return this.entries.slice(this.applied - this.offset, high - this.offset)
  }

  /** Drops entries up to `index` (covered by a snapshot the application took). */
  compact(index: number): void {
    if (index <= this.offset) return
    assert(index <= this.applied, 'cannot compact past what was applied')
    const term = this.term(index)
    assert(term !== undefined, 'compaction index must be in the log')
    this.entries = this.entries.slice(index - this.offset)
    this.offset = index
    this.snapshotTerm = term
  }

  /** Replaces the log by a snapshot received from the leader, keeping a matching suffix. */
  restore(index: number, term: number): void {
    const kept = this.matchTerm(index, term)
    if (kept) {
      this.entries = this.entries.slice(index - this.offset)
    } else {
      this.entries = []
    }
    this.offset = index
    this.snapshotTerm = term
    this.committed = Math.max(this.committed, index)
    this.applied = Math.max(this.applied, index)
    this.stableIndex = Math.max(index, Math.min(this.stableIndex, this.lastIndex()))
    if (this.entries.length === 0) this.stableIndex = index
    // The snapshot itself becomes durable with the Ready that carries it (`durableTo` then).
    this.durableIndex = Math.min(this.durableIndex, this.lastIndex(), kept ? this.stableIndex : index - 1)
  }

  /** Indexes of the `config` entries in the uncompacted log (newest last). */
  configEntries(): LogEntry[] {
    return this.entries.filter((entry) => entry.kind === 'config')
  }
}
