// Goal: a snapshot held in pieces reads exactly like the joined bytes — whole (`joinedBytes`) or by
// range (`slice`, `sliceBytes`, what InstallSnapshot chunking uses) — and a range inside one piece
// is a view, not a copy.
// Method: fast-check over random piece layouts (empty pieces included) and ranges, against the
// joined array's `subarray`.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BytesInParts, joinedBytes, sliceBytes } from './bytes-in-parts'

const piecesArbitrary = fc.array(fc.uint8Array({ maxLength: 12 }), { maxLength: 8 })

describe('BytesInParts', () => {
  it('slice(start, end) equals the joined bytes’ subarray for every layout and range', () => {
    fc.assert(
      fc.property(
        piecesArbitrary,
        fc.integer({ min: -3, max: 110 }),
        fc.integer({ min: -3, max: 110 }),
        (pieces, start, end) => {
          const parts = new BytesInParts(pieces)
          const joined = parts.toBytes()
          expect([...parts.slice(start, end)]).toEqual([...joined.subarray(start, end)])
          expect([...sliceBytes(parts, start, end)]).toEqual([...joined.subarray(start, end)])
          expect([...sliceBytes(joined, start, end)]).toEqual([...joined.subarray(start, end)])
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('a range inside one piece is a view of it; one spanning pieces is a fresh copy', () => {
    const first = new Uint8Array([1, 2, 3, 4])
    const second = new Uint8Array([5, 6, 7, 8])
    const parts = new BytesInParts([new Uint8Array(0), first, second])
    const inside = parts.slice(4, 7)
    expect([...inside]).toEqual([5, 6, 7])
    expect(inside.buffer).toBe(second.buffer)
    const spanning = parts.slice(2, 6)
    expect([...spanning]).toEqual([3, 4, 5, 6])
    expect(spanning.buffer).not.toBe(first.buffer)
    expect(spanning.buffer).not.toBe(second.buffer)
  })

  it('joinedBytes returns an array as it is and joins pieces', () => {
    const array = new Uint8Array([9, 8])
    expect(joinedBytes(array)).toBe(array)
    expect([...joinedBytes(new BytesInParts([array, new Uint8Array([7])]))]).toEqual([9, 8, 7])
  })
})
