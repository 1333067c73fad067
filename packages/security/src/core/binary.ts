import { DecodeError, assert, utf8Decode, utf8Encode } from '@socketcloud/core'

/**
 * A tiny deterministic binary format for what we sign: fixed-width big-endian integers, varints for
 * lengths, length-prefixed bytes and UTF-8 strings. Signatures cover these exact bytes, so encoding
 * must be canonical (one value, one encoding); the reader refuses non-minimal varints.
 */
export class ByteWriter {
  private buffer: Uint8Array
  private length = 0

  constructor(initialBytes = 256) {
    this.buffer = new Uint8Array(initialBytes)
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return
    let size = this.buffer.length * 2
    while (size < this.length + extra) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buffer.subarray(0, this.length))
    this.buffer = next
  }

  u8(value: number): this {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xff, 'u8 in range')
    this.reserve(1)
    this.buffer[this.length++] = value
    return this
  }

  /** Unsigned LEB128 of a safe integer. */
  varuint(value: number): this {
    assert(Number.isSafeInteger(value) && value >= 0, 'varuint is a non-negative safe integer')
    let rest = value
    while (rest >= 0x80) {
      this.u8((rest % 0x80) | 0x80)
      rest = Math.floor(rest / 0x80)
    }
    return this.u8(rest)
  }

  raw(bytes: Uint8Array): this {
    this.reserve(bytes.length)
    this.buffer.set(bytes, this.length)
    this.length += bytes.length
    return this
  }

  bytes(bytes: Uint8Array): this {
    return this.varuint(bytes.length).raw(bytes)
  }

  string(text: string): this {
    return this.bytes(utf8Encode(text))
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length)
  }
}

export class ByteReader {
  private offset = 0

  constructor(
    private readonly input: Uint8Array,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.input.length - this.offset
  }

  private need(count: number, field: string): void {
    if (this.offset + count > this.input.length) {
      throw new DecodeError('TRUNCATED', `${this.what}: truncated reading ${field}`, {
        field,
        offset: this.offset,
        needed: count,
        length: this.input.length,
      })
    }
  }

  u8(field: string): number {
    this.need(1, field)
    return this.input[this.offset++]!
  }

  varuint(field: string, max = Number.MAX_SAFE_INTEGER): number {
    let value = 0
    let scale = 1
    for (let index = 0; ; index++) {
      const byte = this.u8(field)
      value += (byte & 0x7f) * scale
      if ((byte & 0x80) === 0) {
        if (index > 0 && byte === 0) {
          throw new DecodeError('MALFORMED', `${this.what}: non-minimal varint in ${field}`, { field })
        }
        break
      }
      scale *= 0x80
      if (index >= 7)
        throw new DecodeError('MALFORMED', `${this.what}: varint too long in ${field}`, { field })
    }
    if (!Number.isSafeInteger(value) || value > max) {
      throw new DecodeError('INVALID_FIELD', `${this.what}: ${field} ${value} exceeds ${max}`, { field, max })
    }
    return value
  }

  raw(length: number, field: string): Uint8Array {
    this.need(length, field)
    const out = this.input.slice(this.offset, this.offset + length)
    this.offset += length
    return out
  }

  bytes(field: string, lengthMax: number): Uint8Array {
    const length = this.varuint(field)
    if (length > lengthMax) {
      throw new DecodeError('OVERSIZED', `${this.what}: ${field} of ${length} bytes exceeds ${lengthMax}`, {
        field,
        max: lengthMax,
      })
    }
    return this.raw(length, field)
  }

  fixedBytes(length: number, field: string): Uint8Array {
    const bytes = this.bytes(field, length)
    if (bytes.length !== length) {
      throw new DecodeError('INVALID_FIELD', `${this.what}: ${field} must be ${length} bytes`, {
        field,
        length,
      })
    }
    return bytes
  }

  string(field: string, bytesMax: number): string {
    const bytes = this.bytes(field, bytesMax)
    try {
      return utf8Decode(bytes)
    } catch (error) {
      throw new DecodeError(
        'INVALID_FIELD',
        `${this.what}: ${field} is not UTF-8`,
        { field },
        { cause: error },
      )
    }
  }

  /** Refuses trailing bytes: a signed structure has one encoding, with nothing appended. */
  end(): void {
    if (this.offset !== this.input.length) {
      throw new DecodeError('MALFORMED', `${this.what}: ${this.input.length - this.offset} trailing bytes`, {
        trailing: this.input.length - this.offset,
      })
    }
  }
}
