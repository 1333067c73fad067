/**
 * Goal: the frames the WebSocket client writes are exactly the RFC 6455 client frames a server
 * expects, for every length encoding and any payload view. Method: the known-answer example from
 * RFC 6455 section 5.7, an independent byte-at-a-time decoder, and the `ws` package's own framer as
 * an oracle (byte-for-byte equal for the same masking key).
 */
import fc from 'fast-check'
import * as wsPackage from 'ws'
import { describe, expect, it } from 'vitest'
import { clientFrameBytes, clientFrameHeaderBytes, writeClientFrame } from './ws-client-frames'

interface WsFramer {
  frame(data: Buffer, options: Record<string, unknown>): Buffer[]
}
// `ws` exports its framer at runtime; its type declarations leave it out.
const wsSender = (wsPackage as unknown as { Sender: WsFramer }).Sender

function wsFrame(payload: Uint8Array, key: Uint8Array): Buffer {
  return Buffer.concat(
    wsSender.frame(Buffer.from(payload), {
      fin: true,
      opcode: 2,
      mask: true,
      readOnly: true,
      rsv1: false,
      maskBuffer: Buffer.alloc(4),
      generateMask: (mask: Buffer) => mask.set(key),
    }),
  )
}

function keyWord(key: Uint8Array): number {
  return (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0
}

function encode(payload: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(clientFrameBytes(payload.length))
  expect(writeClientFrame(out, 0, payload, keyWord(key))).toBe(out.length)
  return out
}

/** Decodes one masked client frame a byte at a time, as a server would. */
function decode(frame: Uint8Array): { fin: boolean; opcode: number; payload: Uint8Array } {
  const fin = (frame[0]! & 0x80) !== 0
  const opcode = frame[0]! & 0x0f
  expect(frame[1]! & 0x80).toBe(0x80)
  let length = frame[1]! & 0x7f
  let at = 2
  if (length === 126) {
    length = (frame[2]! << 8) | frame[3]!
    at = 4
  } else if (length === 127) {
    length = 0
    for (let index = 2; index < 10; index++) length = length * 256 + frame[index]!
    at = 10
  }
  const key = frame.subarray(at, at + 4)
  at += 4
  expect(frame.length - at).toBe(length)
  const payload = new Uint8Array(length)
  for (let index = 0; index < length; index++) payload[index] = frame[at + index]! ^ key[index % 4]!
  return { fin, opcode, payload }
}

describe('client WebSocket frames', () => {
  it('masks the RFC 6455 section 5.7 example exactly', () => {
    const key = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d)
    const frame = encode(new TextEncoder().encode('Hello'), key)
    // The RFC's example is a text frame (0x81); ours are binary (0x82), the rest is identical.
    expect([...frame]).toEqual([0x82, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
  })

  it('uses the 7-, 16- and 64-bit length encodings at their boundaries', () => {
    expect(clientFrameHeaderBytes(0)).toBe(6)
    expect(clientFrameHeaderBytes(125)).toBe(6)
    expect(clientFrameHeaderBytes(126)).toBe(8)
    expect(clientFrameHeaderBytes(0xffff)).toBe(8)
    expect(clientFrameHeaderBytes(0x10000)).toBe(14)
    const key = Uint8Array.of(1, 2, 3, 4)
    for (const length of [0, 1, 3, 4, 5, 125, 126, 127, 0xffff, 0x10000, 70_001]) {
      const payload = Uint8Array.from({ length }, (_, index) => (index * 131 + 17) & 0xff)
      const frame = encode(payload, key)
      expect(Buffer.from(frame).equals(wsFrame(payload, key))).toBe(true)
      const decoded = decode(frame)
      expect(decoded).toMatchObject({ fin: true, opcode: 2 })
      expect(Buffer.from(decoded.payload).equals(Buffer.from(payload))).toBe(true)
    }
  })

  it('matches the ws framer for any payload view, key and offset, without touching the payload', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.nat({ max: 7 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat({ max: 9 }),
        (bytes, skip, key, offset) => {
          // A view at an odd offset of a larger buffer, as sealed frames and decoded messages can be.
          const backing = new Uint8Array(bytes.length + skip)
          backing.set(bytes, skip)
          const payload = backing.subarray(skip)
          const before = Buffer.from(payload)
          const target = new Uint8Array(offset + clientFrameBytes(payload.length))
          const end = writeClientFrame(target, offset, payload, keyWord(key))
          expect(end).toBe(target.length)
          expect(Buffer.from(target.subarray(offset)).equals(wsFrame(before, key))).toBe(true)
          expect(Buffer.from(payload).equals(before)).toBe(true)
        },
      ),
    )
  })

  it('writes frames back to back into one buffer', () => {
    const key = Uint8Array.of(9, 8, 7, 6)
    const payloads = [new Uint8Array(3).fill(1), new Uint8Array(200).fill(2), new Uint8Array(0)]
    const target = new Uint8Array(
      payloads.reduce((sum, payload) => sum + clientFrameBytes(payload.length), 0),
    )
    let at = 0
    for (const payload of payloads) at = writeClientFrame(target, at, payload, keyWord(key))
    expect(at).toBe(target.length)
    expect(Buffer.from(target).equals(Buffer.concat(payloads.map((payload) => wsFrame(payload, key))))).toBe(
      true,
    )
  })
})
