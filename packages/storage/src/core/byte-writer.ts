import { DecodeError, assert } from '@socketcloud/core'

const TWO_TO_32 = 2 ** 32

/** Little-endian writer into a growing buffer; integers above 2^32 are stored as u64 (safe range only). */
export class ByteWriter {
  private bytes: Uint8Array
  private view: DataView
  private length = 0

  constructor(capacity = 64) {
    this.bytes = new Uint8Array(capacity)
    this.view = new DataView(this.bytes.buffer)
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.bytes.length) return
    let capacity = this.bytes.length * 2
    while (capacity < this.length + extra) capacity *= 2
    const grown = new Uint8Array(capacity)
    grown.set(this.bytes.subarray(0, this.length))
    this.bytes = grown
    this.view = new DataView(grown.buffer)
  }

  u8(value: number): this {
    assert(Number.isInteger(value) && value >= 0 && value < 256, 'u8 out of range')
    this.reserve(1)
    this.bytes[this.length++] = value
    return this
  }

  u16(value: number): this {
    assert(Number.isInteger(value) && value >= 0 && value < 65_536, 'u16 out of range')
    this.reserve(2)
    this.view.setUint16(this.length, value, true)
    this.length += 2
    return this
  }

  u32(value: number): this {
    assert(Number.isInteger(value) && value >= 0 && value < TWO_TO_32, 'u32 out of range')
    this.reserve(4)
    this.view.setUint32(this.length, value, true)
    this.length += 4
    return this
  }

  u64(value: number): this {
    assert(Number.isSafeInteger(value) && value >= 0, 'u64 must be a non-negative safe integer')
    this.reserve(8)
    this.view.setUint32(this.length, value % TWO_TO_32, true)
    this.view.setUint32(this.length + 4, Math.floor(value / TWO_TO_32), true)
    this.length += 8
    return this
  }

  raw(bytes: Uint8Array): this {
    this.reserve(bytes.length)
    this.bytes.set(bytes, this.length)
    this.length += bytes.length
    return this
  }

  finish(): Uint8Array {
    return this.bytes.slice(0, this.length)
  }
}

/** Reader for payloads that already passed their checksum; a short or malformed payload is a DecodeError. */
export class ByteReader {
  private readonly view: DataView
  private offset = 0

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  private need(count: number): void {
    if (this.offset + count > this.bytes.length) {
      throw new DecodeError('TRUNCATED', `${this.what}: needs ${count} more bytes at ${this.offset}`, {
        what: this.what,
        offset: this.offset,
      })
    }
  }

  u8(): number {
    this.need(1)
    return this.bytes[this.offset++]!
  }

  u16(): number {
    this.need(2)
    const value = this.view.getUint16(this.offset, true)
    this.offset += 2
    return value
  }

  u32(): number {
    this.need(4)
    const value = this.view.getUint32(this.offset, true)
    this.offset += 4
    return value
  }

  u64(): number {
    this.need(8)
    const low = this.view.getUint32(this.offset, true)
    const high = this.view.getUint32(this.offset + 4, true)
    this.offset += 8
    const value = high * TWO_TO_32 + low
    if (!Number.isSafeInteger(value)) {
      throw new DecodeError('INVALID_FIELD', `${this.what}: integer beyond 2^53`, { what: this.what })
    }
    return value
  }

  bytesOf(count: number): Uint8Array {
    this.need(count)
    const value = new Uint8Array(this.bytes.subarray(this.offset, this.offset + count))
    this.offset += count
    return value
  }

  rest(): Uint8Array {
    const value = new Uint8Array(this.bytes.subarray(this.offset))
    this.offset = this.bytes.length
    return value
  }

  expectEnd(): void {
    if (this.offset !== this.bytes.length) {
      throw new DecodeError('MALFORMED', `${this.what}: ${this.bytes.length - this.offset} trailing bytes`, {
        what: this.what,
      })
    }
  }
}
