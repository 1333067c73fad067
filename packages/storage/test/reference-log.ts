import type { HardState, LogEntry, LogState } from '@socketcloud/core'

/** The LogStore semantics in a dozen lines, as the oracle for crash tests. */
export class ReferenceLog {
  hardState: HardState | null = null
  entries: LogEntry[] = []
  compactedIndex = 0
  compactedTerm = 0

  get lastIndex(): number {
    return this.compactedIndex + this.entries.length
  }

  get lastTerm(): number {
    return this.entries[this.entries.length - 1]?.term ?? this.compactedTerm
  }

  append(entry: LogEntry): void {
    this.entries.length = entry.index - this.compactedIndex - 1
    this.entries.push(entry)
  }

  compact(index: number, term: number): void {
    if (index <= this.compactedIndex) return
    const kept = this.entries[index - this.compactedIndex - 1]
    this.entries =
      kept !== undefined && kept.term === term ? this.entries.slice(index - this.compactedIndex) : []
    this.compactedIndex = index
    this.compactedTerm = term
  }

  state(): LogState {
    return {
      hardState: this.hardState,
      entries: this.entries.slice(),
      compactedIndex: this.compactedIndex,
      compactedTerm: this.compactedTerm,
    }
  }
}
