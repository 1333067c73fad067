/**
 * Goal: the frame decoder reassembles exactly the frames that were encoded, however the byte stream
 * is cut into chunks, and refuses bad input (oversized header, unknown control frame, truncation)
 * with a typed DecodeError before buffering a body. Method: examples for each rule, then fast-check
 * properties over random frame lists, random chunkings and random garbage.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DecodeError } from '@socketcloud/core'
import {
  CONTROL_KEEPALIVE,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  encodeFrame,
  writeFrameHeader,
} from './frame-decoder'

function collect(frameBytesMax: number) {
  const frames: Uint8Array[] = []
  let keepalives = 0
  const decoder = new FrameDecoder(frameBytesMax, {
    frame: (body) => frames.push(body.slice()),
    control: () => keepalives++,
  })
  return { decoder, frames, keepalives: () => keepalives }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Cuts `bytes` at the given (sorted, deduplicated) offsets. */
function cut(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((offset) => offset % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let start = 0
  for (const point of points) {
    chunks.push(bytes.slice(start, point))
    start = point
  }
  chunks.push(bytes.slice(start))
  return chunks
}

function keepaliveFrame(): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES)
  writeFrameHeader(out, 0, CONTROL_KEEPALIVE)
  return out
}

describe('FrameDecoder', () => {
  it('decodes frames from one chunk, including empty frames and keepalives', () => {
    const { decoder, frames, keepalives } = collect(1024)
    decoder.push(
      concat([encodeFrame(Uint8Array.of(1, 2, 3)), keepaliveFrame(), encodeFrame(new Uint8Array(0))]),
    )
    expect(frames).toEqual([Uint8Array.of(1, 2, 3), new Uint8Array(0)])
    expect(keepalives()).toBe(1)
    expect(decoder.bufferedBytes).toBe(0)
  })

  it('reassembles a frame fed one byte at a time', () => {
    const { decoder, frames } = collect(1024)
    const body = Uint8Array.from({ length: 300 }, (_, index) => index & 0xff)
    for (const byte of encodeFrame(body)) decoder.push(Uint8Array.of(byte))
    expect(frames).toEqual([body])
  })

  it('refuses a header above frameBytesMax before buffering any body', () => {
    const { decoder, frames } = collect(100)
    const header = new Uint8Array(FRAME_HEADER_BYTES)
    writeFrameHeader(header, 0, 101)
    const error = captureError(() => decoder.push(header))
    expect(error).toBeInstanceOf(DecodeError)
    expect((error as DecodeError).code).toBe('OVERSIZED')
    expect((error as DecodeError).context).toMatchObject({ value: 101, frameBytesMax: 100 })
    expect(decoder.bufferedBytes).toBe(0)
    expect(frames).toEqual([])
    // A failed decoder stays failed.
    expect(() => decoder.push(encodeFrame(Uint8Array.of(1)))).toThrow(DecodeError)
  })

  it('refuses a header announcing 4 GiB (the top of the 32-bit range) as an unknown control frame', () => {
    const { decoder } = collect(1024)
    const error = captureError(() => decoder.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff)))
    expect((error as DecodeError).code).toBe('MALFORMED')
  })

  it('reports a stream that ends inside a frame as TRUNCATED', () => {
    const { decoder, frames } = collect(1024)
    const encoded = encodeFrame(new Uint8Array(50))
    decoder.push(encoded.subarray(0, 20))
    const error = captureError(() => decoder.finish())
    expect((error as DecodeError).code).toBe('TRUNCATED')
    expect(frames).toEqual([])
  })

  it('reports a stream that ends inside a header as TRUNCATED', () => {
    const { decoder } = collect(1024)
    decoder.push(Uint8Array.of(0, 0))
    expect((captureError(() => decoder.finish()) as DecodeError).code).toBe('TRUNCATED')
  })

  it('accepts a clean end between frames', () => {
    const { decoder } = collect(1024)
    decoder.push(encodeFrame(Uint8Array.of(9)))
    expect(() => decoder.finish()).not.toThrow()
  })

  it('property: any chunking of any frame sequence decodes to the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.constant('keepalive' as const)), {
          maxLength: 40,
        }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (items, offsets) => {
          const { decoder, frames, keepalives } = collect(600)
          const stream = concat(
            items.map((item) => (item === 'keepalive' ? keepaliveFrame() : encodeFrame(item))),
          )
          for (const chunk of cut(stream, offsets)) decoder.push(chunk)
          decoder.finish()
          expect(frames).toEqual(items.filter((item) => item !== 'keepalive'))
          expect(keepalives()).toBe(items.filter((item) => item === 'keepalive').length)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('property: garbage either decodes or fails with a DecodeError, never anything else, and never buffers past the limit', () => {
    const frameBytesMax = 256
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (garbage, offsets) => {
          const { decoder, frames } = collect(frameBytesMax)
          try {
            for (const chunk of cut(garbage, offsets)) {
              decoder.push(chunk)
              expect(decoder.bufferedBytes).toBeLessThanOrEqual(FRAME_HEADER_BYTES + frameBytesMax)
            }
            decoder.finish()
          } catch (thrown) {
            expect(thrown).toBeInstanceOf(DecodeError)
            expect(['OVERSIZED', 'MALFORMED', 'TRUNCATED']).toContain((thrown as DecodeError).code)
          }
          for (const frame of frames) expect(frame.length).toBeLessThanOrEqual(frameBytesMax)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('property: a valid prefix followed by an oversized header yields the prefix frames, then OVERSIZED', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }),
        fc.integer({ min: 65, max: 0x7fff_ffff }),
        (valid, oversized) => {
          const { decoder, frames } = collect(64)
          const header = new Uint8Array(FRAME_HEADER_BYTES)
          writeFrameHeader(header, 0, oversized)
          const error = captureError(() =>
            decoder.push(concat([...valid.map(encodeFrame), header, new Uint8Array(10)])),
          )
          expect((error as DecodeError).code).toBe('OVERSIZED')
          expect(frames).toEqual(valid)
        },
      ),
    )
  })
})

function captureError(run: () => void): unknown {
  try {
    run()
  } catch (thrown) {
    return thrown
  }
  throw new Error('expected an error')
}
