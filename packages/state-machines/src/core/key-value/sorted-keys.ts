import { AssertionError } from '@socketcloud/core'
import { lowerBound } from '../limits'

/** Keys as sorted chunks, in order, and how many there are. */
export interface KeyChunks {
  readonly chunks: readonly (readonly string[])[]
  readonly size: number
}

/** Keys per chunk after a split; a chunk splits when it reaches twice this. */
const CHUNK_KEYS = 512

/**
 * A set of strings kept in code-unit order, stored as a list of sorted chunks so that inserting or
 * removing a key moves at most ~1,000 entries instead of shifting one array of every key (which cost
 * a put of a new key O(keys): about 25 µs at 60,000 keys and growing). Lookups binary-search the
 * chunks by their last key, then the chunk. Deterministic: the layout depends only on the operations.
 */
export class SortedKeys {
  private readonly chunks: string[][] = []
  private count = 0
  /**
   * Chunks a frozen view still reads (see `freeze`): a change to one of them copies it first, so the
   * view keeps the keys as they were. Null when no view is open.
   */
  private shared: Set<string[]> | null = null

  get size(): number {
    return this.count
  }

  /** Adds `key`, which must not be present. */
  insert(key: string): void {
    if (this.chunks.length === 0) {
      this.chunks.push([key])
      this.count = 1
      return
    }
    const position = this.chunkFor(key)
    const chunk = this.writable(position)
    chunk.splice(lowerBound(chunk, key), 0, key)
    this.count++
    if (chunk.length >= 2 * CHUNK_KEYS) this.chunks.splice(position + 1, 0, chunk.splice(CHUNK_KEYS))
  }

  /** Removes `key`; returns whether it was present. */
  remove(key: string): boolean {
    if (this.chunks.length === 0) return false
    const position = this.chunkFor(key)
    const found = this.chunks[position]!
    const at = lowerBound(found, key)
    if (found[at] !== key) return false
    const chunk = this.writable(position)
    chunk.splice(at, 1)
    this.count--
    if (chunk.length === 0) this.chunks.splice(position, 1)
    return true
  }

  /** Adds `key`, which must sort after every key present (rebuilding from sorted input). */
  append(key: string): void {
    const lastPosition = this.chunks.length - 1
    if (lastPosition < 0 || this.chunks[lastPosition]!.length >= CHUNK_KEYS) this.chunks.push([key])
    else this.writable(lastPosition).push(key)
    this.count++
  }

  /**
   * The keys as they are now, as a list of sorted chunks that later changes leave alone (they copy a
   * chunk before changing it, instead of the view copying every key now). Costs one pointer per chunk.
   * One view at a time; `thaw` ends it.
   */
  freeze(): KeyChunks {
    if (this.shared !== null) throw new AssertionError('SortedKeys.freeze: a frozen view is already open')
    this.shared = new Set(this.chunks)
    return { chunks: this.chunks.slice(), size: this.count }
  }

  /** Ends the frozen view: changes go back to editing chunks in place. */
  thaw(): void {
    this.shared = null
  }

  /** Keys from the first one not below `start`, in order. */
  *from(start: string): IterableIterator<string> {
    if (this.chunks.length === 0) return
    let position = this.chunkFor(start)
    let at = lowerBound(this.chunks[position]!, start)
    for (; position < this.chunks.length; position++, at = 0) {
      const chunk = this.chunks[position]!
      for (; at < chunk.length; at++) yield chunk[at]!
    }
  }

  /** The keys as they are now, as sorted chunks to read before the next change (no copy). */
  view(): KeyChunks {
    return { chunks: this.chunks, size: this.count }
  }

  /** The chunk at `position`, copied first if a frozen view still reads it. */
  private writable(position: number): string[] {
    const chunk = this.chunks[position]!
    if (this.shared === null || !this.shared.has(chunk)) return chunk
    this.shared.delete(chunk)
    const copy = chunk.slice()
    this.chunks[position] = copy
    return copy
  }

  /** The first chunk whose last key is not below `key`, or the last chunk. */
  private chunkFor(key: string): number {
    let low = 0
    let high = this.chunks.length - 1
    while (low < high) {
      const middle = (low + high) >>> 1
      const chunk = this.chunks[middle]!
      if (chunk[chunk.length - 1]! < key) low = middle + 1
      else high = middle
    }
    return low
  }
}
