import { Codec, DecodeError } from '@socketcloud/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { keyValueStore } from './key-value-store'
import { StepwiseRowsEncoder, decodeRows, encodeRows, type KeyRow } from './snapshot-rows'

const limits = { checkKey: (key: string) => key, valueBytesMax: 1 << 20, revision: Number.MAX_SAFE_INTEGER }

const row: fc.Arbitrary<KeyRow> = fc.record({
  // Short keys, keys past the one-byte length, and any Unicode (surrogate pairs included).
  key: fc.oneof(fc.string({ maxLength: 8 }), fc.string({ minLength: 40, maxLength: 200, unit: 'grapheme' })),
  value: fc.uint8Array({ maxLength: 300 }),
  createRevision: fc.oneof(fc.nat(1000), fc.constant(Number.MAX_SAFE_INTEGER)),
  modRevision: fc.maxSafeNat(),
  version: fc.integer({ min: 1, max: 2 ** 40 }),
})

function sortedUnique(rows: KeyRow[]): KeyRow[] {
  const byKey = new Map(rows.map((entry) => [entry.key, entry]))
  return [...byKey.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((key) => byKey.get(key)!)
}

describe('key-value snapshot rows', () => {
  it('encode in steps to the same bytes as in one go, for any step size', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 60 }), fc.integer({ min: 1, max: 70 }), (rows, perStep) => {
        const sorted = sortedUnique(rows)
        let position = 0
        const encoder = new StepwiseRowsEncoder(sorted.length, () => sorted[position++]!)
        let steps = 0
        let bytes: Uint8Array | null = null
        while (bytes === null) {
          bytes = encoder.step(perStep)?.toBytes() ?? null
          steps++
        }
        expect(bytes).toEqual(encodeRows(sorted))
        // One walk, in slices of at most perStep rows.
        expect(steps).toBe(Math.max(1, Math.ceil(sorted.length / perStep)))
      }),
    )
  })

  it('spreads a large encode over 1 MiB pieces and gives a big row a piece of its own', () => {
    const big = (key: string, bytes: number): KeyRow => ({
      key,
      value: new Uint8Array(bytes).fill(key.charCodeAt(0)),
      createRevision: 1,
      modRevision: 2,
      version: 1,
    })
    const rows = [big('a', 700_000), big('b', 700_000), big('c', 3_000_000), big('d', 10)]
    let position = 0
    const encoded = new StepwiseRowsEncoder(rows.length, () => rows[position++]!).step(10)!
    expect(encoded.parts.length).toBeGreaterThanOrEqual(4)
    expect(Math.max(...encoded.parts.map((part) => part.length))).toBeLessThan(3_100_000)
    // Buffer#equals: a deep equality over megabytes element by element takes tens of seconds.
    expect(Buffer.from(encoded.toBytes()).equals(encodeRows(rows))).toBe(true)
  })

  it('round-trip any sorted rows exactly', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 60 }), (rows) => {
        const sorted = sortedUnique(rows)
        expect(decodeRows(encodeRows(sorted), limits)).toEqual(sorted)
      }),
    )
  })

  it('refuse every truncation, and never throw anything but a DecodeError on a corrupted byte', () => {
    const rows = sortedUnique([
      { key: 'a', value: new Uint8Array([1, 2, 3]), createRevision: 1, modRevision: 2, version: 2 },
      {
        key: 'k'.repeat(150),
        value: new Uint8Array(200).fill(9),
        createRevision: 300,
        modRevision: 301,
        version: 1,
      },
      { key: 'z\u00e9', value: new Uint8Array(0), createRevision: 5, modRevision: 5, version: 1 },
    ])
    const bytes = encodeRows(rows)
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(() => decodeRows(bytes.subarray(0, cut), limits), `cut at ${cut}`).toThrow(DecodeError)
    }
    for (let at = 0; at < bytes.length; at++) {
      const corrupted = bytes.slice()
      corrupted[at]! ^= 0xff
      try {
        decodeRows(corrupted, limits)
      } catch (thrown) {
        expect(thrown).toBeInstanceOf(DecodeError)
      }
    }
  })

  it('refuse unsorted or repeated keys, non-UTF-8 keys, overlong numbers and out-of-range values', () => {
    const one = (key: string, revision = 1): KeyRow => ({
      key,
      value: new Uint8Array([7]),
      createRevision: revision,
      modRevision: revision,
      version: 1,
    })
    expect(() => decodeRows(encodeRows([one('b'), one('a')]), limits)).toThrow(/not strictly sorted/)
    expect(() => decodeRows(encodeRows([one('a'), one('a')]), limits)).toThrow(/not strictly sorted/)
    expect(() => decodeRows(new Uint8Array([1, 1, 0xff, 0, 0, 0, 1]), limits)).toThrow(/not UTF-8/)
    expect(() => decodeRows(new Uint8Array([1, 0x81, 0x00, 0x61, 0, 0, 0, 1]), limits)).toThrow(/overlong/)
    expect(() => decodeRows(new Uint8Array(9).fill(0xff), limits)).toThrow(DecodeError)
    expect(() => decodeRows(new Uint8Array([200, 1]), limits)).toThrow(/cannot fit/)
    expect(() => decodeRows(Uint8Array.from([...encodeRows([one('a')]), 0]), limits)).toThrow(/trailing/)
    expect(() => decodeRows(encodeRows([one('a', 10)]), { ...limits, revision: 9 })).toThrow(/revision/)
    expect(() => decodeRows(encodeRows([one('a')]), { ...limits, valueBytesMax: 0 })).toThrow(/value longer/)
    const refuse = (key: string): string => {
      if (key.includes('\0')) throw new DecodeError('INVALID_FIELD', 'NUL in key')
      return key
    }
    expect(() => decodeRows(encodeRows([one('a\0b')]), { ...limits, checkKey: refuse })).toThrow(/NUL/)
  })

  it('the store still restores a snapshot in the earlier format (one array per key)', () => {
    const kv = keyValueStore()
    const machine = kv.create()
    const codec = new Codec({ envelopeBytesMax: 1 << 20 })
    const value = new Uint8Array([1, 2])
    const earlier = codec.encodeValue([
      1,
      'socketcloud.kv',
      [
        4,
        [
          ['a', value, 1, 3, 2],
          ['b', value, 4, 4, 1],
        ],
      ],
    ])
    machine.restore(earlier)
    const fresh = kv.create()
    for (const [key, index] of [
      ['a', 1],
      ['x', 2],
      ['a', 3],
      ['b', 4],
    ] as const) {
      fresh.apply(kv.encodeCommand('put', { key, value }), { index, term: 1, timestampMs: 0 })
    }
    fresh.apply(kv.encodeCommand('delete', { key: 'x' }), { index: 5, term: 1, timestampMs: 0 })
    // The restored rows equal those of a store that lived through a history producing them.
    const range = kv.encodeQuery('range', { prefix: '', limit: 10 })
    const rowsOf = (bytes: Uint8Array): unknown => {
      const result = kv.decodeQueryResult('range', bytes)
      return result.ok ? result.value.kvs : result
    }
    expect(rowsOf(machine.query(range))).toEqual(rowsOf(fresh.query(range)))
  })
})
