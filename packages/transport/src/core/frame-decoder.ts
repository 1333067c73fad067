import { DecodeError, assert } from '@socketcloud/core'

/**
 * Stream framing: every frame is a 4-byte big-endian header followed by its body. A header with the
 * top bit clear is a data frame whose value is the body length. A header with the top bit set is a
 * control frame with no body; the only control frame defined is KEEPALIVE. Keeping the control bit in
 * the header lets the link keep a connection alive without touching the secure session, and keeps
 * zero-length data frames (an empty message) distinct from keepalives.
 */
export const FRAME_HEADER_BYTES = 4
export const CONTROL_FLAG = 0x8000_0000
export const CONTROL_KEEPALIVE = 0x8000_0001
/** Largest body a header can announce; `frameBytesMax` may not exceed it. */
export const FRAME_BYTES_LIMIT = 0x7fff_ffff

const EMPTY = new Uint8Array(0)

export function writeFrameHeader(target: Uint8Array, offset: number, value: number): void {
  assert(offset + FRAME_HEADER_BYTES <= target.length, 'frame header must fit the target')
  target[offset] = value >>> 24
  target[offset + 1] = (value >>> 16) & 0xff
  target[offset + 2] = (value >>> 8) & 0xff
  target[offset + 3] = value & 0xff
}

/** Encodes one data frame (header + body) into a fresh array. Used by tests and small writers. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  assert(body.length <= FRAME_BYTES_LIMIT, 'frame body must fit the header')
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length)
  writeFrameHeader(out, 0, body.length)
  out.set(body, FRAME_HEADER_BYTES)
  return out
}

export interface FrameSink {
  /**
   * One whole data frame. The bytes may be a view into a pushed chunk; the sink may keep them
   * because the decoder never writes into chunks it was given.
   */
  frame(body: Uint8Array): void
  /** One control frame (currently only CONTROL_KEEPALIVE). */
  control(header: number): void
}

/**
 * Incremental decoder for length-prefixed frames. Pure and allocation-light: a frame wholly inside
 * one chunk is delivered as a view of that chunk, and a frame spread over chunks is assembled once,
 * from references to the chunks, when its last byte arrives. The header is checked against
 * `frameBytesMax` before any body byte is buffered, so a peer announcing a huge frame costs four
 * bytes, never a large allocation, and memory held for a partial frame is only what was received.
 *
 * `push` takes ownership of each chunk: the caller must not modify it afterwards. On a bad header
 * `push` throws DecodeError (`OVERSIZED` or `MALFORMED`) and the decoder stays failed; `finish`
 * throws `TRUNCATED` when the stream ends inside a frame.
 */
export class FrameDecoder {
  private readonly frameBytesMax: number
  private readonly sink: FrameSink
  /** Header bytes gathered so far when a header is split across chunks. */
  private headerValue = 0
  private headerBytes = 0
  /** Body of the frame being assembled: its announced length, and the chunk views received so far. */
  private bodyLength = 0
  private bodyParts: Uint8Array[] = []
  private bodyReceived = 0
  private failure: DecodeError | undefined

  constructor(frameBytesMax: number, sink: FrameSink) {
    assert(Number.isInteger(frameBytesMax), 'frameBytesMax must be an integer')
    assert(frameBytesMax >= 0 && frameBytesMax <= FRAME_BYTES_LIMIT, 'frameBytesMax must fit the header')
    this.frameBytesMax = frameBytesMax
    this.sink = sink
  }

  /** Bytes held for a frame not yet complete (header bytes included). */
  get bufferedBytes(): number {
    return this.headerBytes + this.bodyReceived
  }

  get failed(): boolean {
    return this.failure !== undefined
  }

  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure
    const length = chunk.length
    let offset = 0
    while (offset < length) {
      if (this.bodyParts.length > 0) {
        offset = this.continueBody(chunk, offset)
        continue
      }
      let header: number
      if (this.headerBytes === 0 && length - offset >= FRAME_HEADER_BYTES) {
        header =
          ((chunk[offset]! << 24) |
            (chunk[offset + 1]! << 16) |
            (chunk[offset + 2]! << 8) |
            chunk[offset + 3]!) >>>
          0
        offset += FRAME_HEADER_BYTES
      } else {
        while (this.headerBytes < FRAME_HEADER_BYTES && offset < length) {
          this.headerValue = this.headerValue * 256 + chunk[offset]!
          this.headerBytes++
          offset++
        }
        if (this.headerBytes < FRAME_HEADER_BYTES) return
        header = this.headerValue
        this.headerValue = 0
        this.headerBytes = 0
      }
      if (header >= CONTROL_FLAG) {
        if (header !== CONTROL_KEEPALIVE)
          this.fail('MALFORMED', `unknown control frame 0x${header.toString(16)}`, header)
        this.sink.control(header)
        continue
      }
      if (header > this.frameBytesMax) {
        this.fail(
          'OVERSIZED',
          `frame announces ${header} bytes, more than frameBytesMax ${this.frameBytesMax}`,
          header,
        )
      }
      if (header === 0) {
        this.sink.frame(EMPTY)
        continue
      }
      if (length - offset >= header) {
        const body = chunk.subarray(offset, offset + header)
        offset += header
        this.sink.frame(body)
        continue
      }
      this.bodyLength = header
      this.bodyParts.push(chunk.subarray(offset))
      this.bodyReceived = length - offset
      offset = length
    }
  }

  /** Declares the end of the stream; throws DecodeError `TRUNCATED` when it ends inside a frame. */
  finish(): void {
    if (this.failure) return
    if (this.headerBytes > 0 || this.bodyParts.length > 0) {
      const buffered = this.bufferedBytes
      this.reset()
      this.fail('TRUNCATED', `stream ended inside a frame (${buffered} bytes buffered)`, buffered)
    }
  }

  private continueBody(chunk: Uint8Array, offset: number): number {
    const needed = this.bodyLength - this.bodyReceived
    const available = chunk.length - offset
    if (available < needed) {
      this.bodyParts.push(offset === 0 ? chunk : chunk.subarray(offset))
      this.bodyReceived += available
      return chunk.length
    }
    this.bodyParts.push(chunk.subarray(offset, offset + needed))
    const body = new Uint8Array(this.bodyLength)
    let position = 0
    for (const part of this.bodyParts) {
      body.set(part, position)
      position += part.length
    }
    assert(position === this.bodyLength, 'assembled frame must have its announced length')
    this.reset()
    this.sink.frame(body)
    return offset + needed
  }

  private reset(): void {
    this.headerValue = 0
    this.headerBytes = 0
    this.bodyLength = 0
    this.bodyParts = []
    this.bodyReceived = 0
  }

  private fail(code: 'OVERSIZED' | 'MALFORMED' | 'TRUNCATED', message: string, value: number): never {
    this.failure = new DecodeError(code, message, { value, frameBytesMax: this.frameBytesMax })
    throw this.failure
  }
}
