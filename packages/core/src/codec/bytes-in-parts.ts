/**
 * One byte string held as the pieces it was produced in, so layers that wrap a large payload (a
 * snapshot: rows, then a machine header, then the driver's header) add their headers as pieces
 * instead of each copying the whole. `Codec.encodeToParts` encodes it exactly as the joined bytes.
 */
export class BytesInParts {
  readonly length: number
  /** Where each part starts in the joined bytes (one more entry than parts: the total length). */
  private readonly starts: number[]

  constructor(readonly parts: readonly Uint8Array[]) {
    this.starts = [0]
    let length = 0
    for (const part of parts) {
      length += part.length
      this.starts.push(length)
    }
    this.length = length
  }

  /**
   * Bytes `start` (inclusive) to `end` (exclusive) as one array: a view when they lie in one part, a
   * copy of just that range when they span parts. Bounds mean what they mean to
   * `Uint8Array#subarray` (truncated to integers; negative ones count from the end; out-of-range ones
   * are clamped). Finding the first part is a binary search, so reading a snapshot of many parts
   * chunk by chunk stays linear overall.
   */
  slice(start: number, end: number): Uint8Array {
    const from = this.resolve(start)
    const to = Math.max(from, this.resolve(end))
    if (from === to) return new Uint8Array(0)
    let partIndex = this.partHolding(from)
    const first = this.parts[partIndex]!
    const firstStart = this.starts[partIndex]!
    if (to - firstStart <= first.length) return first.subarray(from - firstStart, to - firstStart)
    const bytes = new Uint8Array(to - from)
    let written = 0
    for (let offset = from - firstStart; written < bytes.length; partIndex++, offset = 0) {
      const part = this.parts[partIndex]!
      const piece = part.subarray(offset, Math.min(part.length, offset + bytes.length - written))
      bytes.set(piece, written)
      written += piece.length
    }
    return bytes
  }

  private resolve(position: number): number {
    const integer = Math.trunc(position)
    return integer < 0 ? Math.max(0, this.length + integer) : Math.min(integer, this.length)
  }

  /** The index of the non-empty part holding byte `offset` (which is below `length`). */
  private partHolding(offset: number): number {
    let low = 0
    let high = this.parts.length - 1
    // The last part whose start is at or before `offset`; empty parts share the next one's start,
    // and the last of a run of equal starts is the non-empty one.
    while (low < high) {
      const middle = (low + high + 1) >> 1
      if (this.starts[middle]! <= offset) low = middle
      else high = middle - 1
    }
    return low
  }

  /** The joined bytes: one allocation and one copy (none for a single part). */
  toBytes(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0]!
    const bytes = new Uint8Array(this.length)
    let offset = 0
    for (const part of this.parts) {
      bytes.set(part, offset)
      offset += part.length
    }
    return bytes
  }
}

/** Bytes held whole or as the pieces they were produced in (a snapshot on its way to disk). */
export type BytesOrParts = Uint8Array | BytesInParts

/** The pieces of `data`: itself alone, or its parts. */
export function partsOf(data: BytesOrParts): readonly Uint8Array[] {
  return data instanceof Uint8Array ? [data] : data.parts
}

/** `data` as one array: itself, or its pieces joined (one copy). */
export function joinedBytes(data: BytesOrParts): Uint8Array {
  return data instanceof Uint8Array ? data : data.toBytes()
}

/** Bytes `start` to `end` of `data`, copying only when the range spans pieces. */
export function sliceBytes(data: BytesOrParts, start: number, end: number): Uint8Array {
  return data instanceof Uint8Array ? data.subarray(start, end) : data.slice(start, end)
}
