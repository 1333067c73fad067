/**
 * Goal: membership messages survive the wire exactly, and anything malformed is refused with a
 * DecodeError rather than reaching the protocol. Method: fast-check round trips of arbitrary valid
 * messages, then hand-built malformed envelopes and random bytes.
 */
import { Codec, DecodeError, NodeId } from '@socketcloud/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  GOSSIP_UPDATES_DECODE_MAX,
  MEMBER_STATUSES,
  decodeMembershipMessage,
  encodeMembershipMessage,
} from './messages'
import type { MembershipMessage } from './messages'

const codec = new Codec()
const sender = NodeId.fromHex('11'.repeat(32))

const nodeIdArbitrary = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((bytes) => NodeId.fromBytes(bytes))
const updateArbitrary = fc.record({
  member: nodeIdArbitrary,
  status: fc.constantFrom(...MEMBER_STATUSES),
  incarnation: fc.nat(),
  upNumber: fc.nat(),
})
const messageArbitrary: fc.Arbitrary<MembershipMessage> = fc.oneof(
  fc.record({
    type: fc.constantFrom('ping' as const, 'ack' as const),
    seq: fc.nat(),
    gossip: fc.array(updateArbitrary, { maxLength: 20 }),
  }),
  fc.record({
    type: fc.constantFrom('ping-req' as const, 'indirect-ack' as const),
    seq: fc.nat(),
    target: nodeIdArbitrary,
    gossip: fc.array(updateArbitrary, { maxLength: 20 }),
  }),
)

function payloadBytes(type: string, payload: unknown): Uint8Array {
  return codec.encode({ type, sender, payload })
}

describe('membership message codec', () => {
  it('round-trips every valid message', () => {
    fc.assert(
      fc.property(messageArbitrary, (message) => {
        const decoded = decodeMembershipMessage(codec, encodeMembershipMessage(codec, sender, message))
        expect(decoded.sender.equals(sender)).toBe(true)
        expect(decoded.message.type).toBe(message.type)
        expect(decoded.message.seq).toBe(message.seq)
        if ('target' in message) {
          expect('target' in decoded.message && decoded.message.target.equals(message.target)).toBe(true)
        }
        expect(
          decoded.message.gossip.map((u) => [u.member.hex, u.status, u.incarnation, u.upNumber]),
        ).toEqual(message.gossip.map((u) => [u.member.hex, u.status, u.incarnation, u.upNumber]))
      }),
    )
  })

  it.each([
    ['a payload that is not a map', 'fd.ping', [1, 2]],
    ['a missing seq', 'fd.ping', { gossip: [] }],
    ['a negative seq', 'fd.ack', { seq: -1, gossip: [] }],
    ['a fractional seq', 'fd.ack', { seq: 1.5, gossip: [] }],
    ['gossip that is not an array', 'fd.ping', { seq: 1, gossip: 'x' }],
    ['an update with a short id', 'fd.ping', { seq: 1, gossip: [[new Uint8Array(31), 'alive', 0, 0]] }],
    [
      'an update with an unknown status',
      'fd.ping',
      { seq: 1, gossip: [[new Uint8Array(32), 'zombie', 0, 0]] },
    ],
    [
      'an update with a negative incarnation',
      'fd.ping',
      { seq: 1, gossip: [[new Uint8Array(32), 'alive', -1, 0]] },
    ],
    ['an update with missing fields', 'fd.ping', { seq: 1, gossip: [[new Uint8Array(32), 'alive']] }],
    ['an update that is a map', 'fd.ping', { seq: 1, gossip: [{ member: new Uint8Array(32) }] }],
    [
      'too many updates',
      'fd.ping',
      {
        seq: 1,
        gossip: Array.from({ length: GOSSIP_UPDATES_DECODE_MAX + 1 }, () => [
          new Uint8Array(32),
          'alive',
          0,
          0,
        ]),
      },
    ],
    ['a foreign message type', 'raft.append', { seq: 1, gossip: [] }],
    ['a ping-req without a target', 'fd.ping-req', { seq: 1, gossip: [] }],
    [
      'an indirect-ack with a short target',
      'fd.indirect-ack',
      { seq: 1, target: new Uint8Array(8), gossip: [] },
    ],
  ])('refuses %s', (_name, type, payload) => {
    expect(() => decodeMembershipMessage(codec, payloadBytes(type, payload))).toThrow(DecodeError)
  })

  it('refuses random bytes with a DecodeError and nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeMembershipMessage(codec, bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError)
        }
      }),
    )
  })

  it('refuses truncated valid messages', () => {
    const bytes = encodeMembershipMessage(codec, sender, {
      type: 'ping',
      seq: 7,
      gossip: [{ member: sender, status: 'suspect', incarnation: 3, upNumber: 1 }],
    })
    for (let length = 0; length < bytes.length; length++) {
      expect(() => decodeMembershipMessage(codec, bytes.subarray(0, length))).toThrow(DecodeError)
    }
  })
})
