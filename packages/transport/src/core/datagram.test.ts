/**
 * Goal: datagram headers round-trip, and anything else is refused with a typed DecodeError.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DecodeError, NodeId } from '@socketcloud/core'
import { DATAGRAM_HEADER_BYTES, decodeDatagram, encodeDatagram, type DatagramKind } from './datagram'

const sender = NodeId.fromHex('ab'.repeat(32))
const kinds: DatagramKind[] = ['data', 'hello', 'hello-ack', 'ping', 'pong', 'bye']

describe('datagram header', () => {
  it('round-trips every kind with its payload', () => {
    for (const kind of kinds) {
      const decoded = decodeDatagram(encodeDatagram(kind, sender, Uint8Array.of(1, 2, 3)))
      expect(decoded.kind).toBe(kind)
      expect(decoded.sender.equals(sender)).toBe(true)
      expect([...decoded.payload]).toEqual([1, 2, 3])
    }
  })

  it('refuses short, foreign, future-version and unknown-kind datagrams', () => {
    const good = encodeDatagram('data', sender, new Uint8Array(0))
    const codeOf = (bytes: Uint8Array) => {
      try {
        decodeDatagram(bytes)
      } catch (thrown) {
        return (thrown as DecodeError).code
      }
      return 'accepted'
    }
    expect(codeOf(good.subarray(0, DATAGRAM_HEADER_BYTES - 1))).toBe('TRUNCATED')
    expect(codeOf(Uint8Array.from(good, (byte, index) => (index === 0 ? 0 : byte)))).toBe('MALFORMED')
    expect(codeOf(Uint8Array.from(good, (byte, index) => (index === 2 ? 9 : byte)))).toBe(
      'UNSUPPORTED_VERSION',
    )
    expect(codeOf(Uint8Array.from(good, (byte, index) => (index === 3 ? 200 : byte)))).toBe('UNKNOWN_TYPE')
  })

  it('property: random bytes decode or throw DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        try {
          decodeDatagram(bytes)
        } catch (thrown) {
          expect(thrown).toBeInstanceOf(DecodeError)
        }
      }),
    )
  })
})
