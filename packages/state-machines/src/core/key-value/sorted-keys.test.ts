import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { lowerBound } from '../limits'
import { AssertionError } from '@socketcloud/core'
import { SortedKeys } from './sorted-keys'

/** The reference: one sorted array, as the key-value store kept before. */
function reference(keys: readonly string[], start: string): string[] {
  return keys.slice(lowerBound(keys, start))
}

function all(keys: SortedKeys): string[] {
  return keys.view().chunks.flat()
}

const key = fc.string({ minLength: 0, maxLength: 3, unit: fc.constantFrom('a', 'b', 'c', 'd', '\u00e9') })

describe('SortedKeys', () => {
  it('matches a sorted array under any sequence of inserts and removes, across chunk splits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ add: fc.boolean(), key: fc.oneof(key, fc.nat(5000).map(String)) }), {
          maxLength: 3000,
        }),
        key,
        (operations, start) => {
          const keys = new SortedKeys()
          const expected: string[] = []
          for (const { add, key: name } of operations) {
            const at = lowerBound(expected, name)
            const present = expected[at] === name
            if (add && !present) {
              keys.insert(name)
              expected.splice(at, 0, name)
            } else if (!add) {
              expect(keys.remove(name)).toBe(present)
              if (present) expected.splice(at, 1)
            }
          }
          expect(keys.size).toBe(expected.length)
          expect(all(keys)).toEqual(expected)
          expect([...keys.from(start)]).toEqual(reference(expected, start))
        },
      ),
      { numRuns: 60 },
    )
  })

  it('rebuilds from sorted input with append and keeps working', () => {
    const keys = new SortedKeys()
    const names = Array.from({ length: 5000 }, (_, i) => `k${String(i).padStart(5, '0')}`)
    for (const name of names) keys.append(name)
    keys.insert('k00100x')
    expect(keys.remove('k04999')).toBe(true)
    expect(keys.remove('absent')).toBe(false)
    expect([...keys.from('k00099')].slice(0, 4)).toEqual(['k00099', 'k00100', 'k00100x', 'k00101'])
    expect(keys.size).toBe(5000)
    expect(all(keys)).toEqual([...names.slice(0, 101), 'k00100x', ...names.slice(101, 4999)])
    expect([...keys.from('z')]).toEqual([])
  })

  it('keeps a frozen view unchanged while inserts split chunks and removes empty them', () => {
    const keys = new SortedKeys()
    const names = Array.from({ length: 3000 }, (_, i) => `k${String(i).padStart(5, '0')}`)
    for (const name of names) keys.insert(name)
    const frozen = keys.freeze()
    expect(() => keys.freeze()).toThrow(AssertionError)
    // Split chunks with new keys, empty whole chunks, and append at the end.
    for (let i = 0; i < 1500; i++) keys.insert(`k00100-${String(i).padStart(4, '0')}`)
    for (const name of names.slice(1000, 2100)) expect(keys.remove(name)).toBe(true)
    keys.insert('z')
    expect(frozen.size).toBe(3000)
    expect(frozen.chunks.flat()).toEqual(names)
    expect(keys.size).toBe(3000 + 1500 - 1100 + 1)
    const live = all(keys)
    expect(live).toEqual([...live].sort())
    expect(live.includes('k01500')).toBe(false)
    keys.thaw()
    const next = keys.freeze()
    expect(next.chunks.flat()).toEqual(live)
  })
})
