import { Codec, NodeId } from '@socketcloud/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { peekEnvelopeType } from './envelope-type'

const sender = NodeId.fromHex('ab'.repeat(32))

describe('peekEnvelopeType', () => {
  it('reads the type of every envelope the codec writes, short and long names', () => {
    const codec = new Codec()
    for (const type of [
      'fd.ping',
      'raft.append',
      'consensus.submit-result',
      `a.${'x'.repeat(29)}`,
      `b.${'y'.repeat(150)}`,
    ]) {
      expect(peekEnvelopeType(codec.encode({ type, sender, payload: { a: 1 } }))).toBe(type)
    }
  })

  it('returns undefined for bytes that are not an envelope, never throws', () => {
    expect(peekEnvelopeType(new Uint8Array())).toBeUndefined()
    expect(peekEnvelopeType(new Uint8Array([0x93, 1, 0xa1, 0x61]))).toBeUndefined()
    expect(peekEnvelopeType(new Uint8Array([0x94, 1, 0xa5, 0x61]))).toBeUndefined()
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const type = peekEnvelopeType(bytes)
        expect(type === undefined || typeof type === 'string').toBe(true)
      }),
    )
  })
})
