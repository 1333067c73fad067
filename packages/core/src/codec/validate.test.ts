import { describe, expect, it } from 'vitest'
import { DecodeError } from '../errors'
import {
  expectArray,
  expectBytes,
  expectOneOf,
  expectRecord,
  expectString,
  expectUint,
  optional,
} from './validate'

describe('payload validators', () => {
  it('accept valid values and return them typed', () => {
    const record = expectRecord({ term: 4, kind: 'vote', data: new Uint8Array(2) }, 'm')
    expect(expectUint(record.term, 'm.term')).toBe(4)
    expect(expectOneOf(record.kind, 'm.kind', ['vote', 'append'] as const)).toBe('vote')
    expect(expectBytes(record.data, 'm.data', 8)).toHaveLength(2)
    expect(optional(record.missing, (value) => expectUint(value, 'm.missing'))).toBeUndefined()
  })

  it('name the field path in the error', () => {
    const error = (() => {
      try {
        expectUint(-1, 'append.term')
      } catch (thrown) {
        return thrown as DecodeError
      }
      return undefined
    })()
    expect(error).toBeInstanceOf(DecodeError)
    expect(error?.context.field).toBe('append.term')
  })

  it('refuse oversized arrays, strings and byte fields', () => {
    expect(() => expectArray([1, 2, 3], 'a', 2)).toThrow(DecodeError)
    expect(() => expectString('abcdef', 's', 3)).toThrow(DecodeError)
    expect(() => expectBytes(new Uint8Array(9), 'b', 8)).toThrow(DecodeError)
    expect(() => expectRecord([1], 'r')).toThrow(DecodeError)
    expect(() => expectUint(1.5, 'u')).toThrow(DecodeError)
    expect(() => expectUint(10, 'u', 9)).toThrow(DecodeError)
  })
})
