/**
 * One byte string held as the pieces it was produced in, so layers that wrap a large payload (a
 * snapshot: rows, then a machine header, then the driver's header) add their headers as pieces
 * instead of each copying the whole. `Codec.encodeToParts` encodes it exactly as the joined bytes.
 */
export class BytesInParts {
  readonly length: number

  constructor(readonly parts: readonly Uint8Array[]) {
    let length = 0
    for (const part of parts) length += part.length
    this.length = length
  }

  /**
   * Bytes `start` (inclusive) to `end` (exclusive) as one array: a view when they lie in one part, a
   * copy of just that range when they span parts. Bounds mean what they mean to
   * `Uint8Array#subarray` (negative ones count from the end; out-of-range ones are clamped).
   */
  slice(start: number, end: number): Uint8Array {
    const from = this.resolve(start)
    const to = Math.max(from, this.resolve(end))
    let partStart = 0
    let partIndex = 0
    // Skip whole parts before the range (empty parts included).
    while (partIndex < this.parts.length && partStart + this.parts[partIndex]!.length <= from) {
      partStart += this.parts[partIndex]!.length
      partIndex++
    }
    if (from === to) return new Uint8Array(0)
    const first = this.parts[partIndex]!
    if (to - partStart <= first.length) return first.subarray(from - partStart, to - partStart)
    const bytes = new Uint8Array(to - from)
    let written = 0
    for (let offset = from - partStart; written < bytes.length; partIndex++, offset = 0) {
      const part = this.parts[partIndex]!
      const piece = part.subarray(offset, Math.min(part.length, offset + bytes.length - written))
      bytes.set(piece, written)
      written += piece.length
    }
    return bytes
  }

  private resolve(position: number): number {
    return position < 0 ? Math.max(0, this.length + position) : Math.min(position, this.length)
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

/** `data` as one array: itself, or its pieces joined (one copy). */
export function joinedBytes(data: BytesOrParts): Uint8Array {
  return data instanceof Uint8Array ? data : data.toBytes()
}

/** Bytes `start` to `end` of `data`, copying only when the range spans pieces. */
export function sliceBytes(data: BytesOrParts, start: number, end: number): Uint8Array {
  return data instanceof Uint8Array ? data.subarray(start, end) : data.slice(start, end)
}
