import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DecodeError } from './errors'
import { NodeId } from './node-id'

describe('NodeId', () => {
  it('round-trips bytes and hex, and prints a short form', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const id = NodeId.fromBytes(bytes)
        expect(NodeId.fromHex(id.hex).equals(id)).toBe(true)
        expect(id.hex).toHaveLength(64)
        expect(id.toShortString()).toBe(id.hex.slice(0, 12))
      }),
    )
  })

  it('copies its input so later mutation cannot change it', () => {
    const bytes = new Uint8Array(32).fill(7)
    const id = NodeId.fromBytes(bytes)
    bytes[0] = 0
    expect(id.bytes[0]).toBe(7)
  })

  it('refuses wrong lengths and non-hex text with DecodeError', () => {
    expect(() => NodeId.fromBytes(new Uint8Array(31))).toThrow(DecodeError)
    expect(() => NodeId.fromHex('zz'.repeat(32))).toThrow(DecodeError)
    expect(() => NodeId.fromHex('ab')).toThrow(DecodeError)
  })
})
