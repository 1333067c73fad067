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
