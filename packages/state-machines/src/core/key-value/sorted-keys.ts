import { lowerBound } from '../limits'

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
    const chunk = this.chunks[position]!
    chunk.splice(lowerBound(chunk, key), 0, key)
    this.count++
    if (chunk.length >= 2 * CHUNK_KEYS) this.chunks.splice(position + 1, 0, chunk.splice(CHUNK_KEYS))
  }

  /** Removes `key`; returns whether it was present. */
  remove(key: string): boolean {
    if (this.chunks.length === 0) return false
    const position = this.chunkFor(key)
    const chunk = this.chunks[position]!
    const at = lowerBound(chunk, key)
    if (chunk[at] !== key) return false
    chunk.splice(at, 1)
    this.count--
    if (chunk.length === 0) this.chunks.splice(position, 1)
    return true
  }

  /** Adds `key`, which must sort after every key present (rebuilding from sorted input). */
  append(key: string): void {
    const last = this.chunks[this.chunks.length - 1]
    if (last === undefined || last.length >= CHUNK_KEYS) this.chunks.push([key])
    else last.push(key)
    this.count++
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

  /** Calls `visit` with every key in order. */
  forEach(visit: (key: string) => void): void {
    for (const chunk of this.chunks) for (const key of chunk) visit(key)
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
