// Goal: the XOR metric and bucket arithmetic every other part relies on. Method: worked examples and
// fast-check properties over random ids.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { commonPrefixLength, compareDistance, randomIdInBucket, xorDistance } from './distance'

const id = fc.uint8Array({ minLength: 32, maxLength: 32 })

describe('XOR distance', () => {
  it('counts the common prefix in bits', () => {
    const a = new Uint8Array(32)
    const b = new Uint8Array(32)
    expect(commonPrefixLength(a, b)).toBe(256)
    b[0] = 0x80
    expect(commonPrefixLength(a, b)).toBe(0)
    b[0] = 0
    b[2] = 0x10
    expect(commonPrefixLength(a, b)).toBe(19)
  })

  it('orders by XOR distance, agreeing with the distance bytes (property)', () => {
    fc.assert(
      fc.property(id, id, id, (target, a, b) => {
        const da = xorDistance(target, a)
        const db = xorDistance(target, b)
        const expected = Buffer.compare(Buffer.from(da), Buffer.from(db))
        expect(Math.sign(compareDistance(target, a, b))).toBe(expected)
      }),
    )
  })

  it('random ids for a bucket share exactly that many leading bits (property)', () => {
    fc.assert(
      fc.property(id, fc.integer({ min: 0, max: 255 }), fc.integer(), (base, bucket, seed) => {
        let state = seed
        const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0)
        expect(commonPrefixLength(base, randomIdInBucket(base, bucket, next))).toBe(bucket)
      }),
    )
  })
})
