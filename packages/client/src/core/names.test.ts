import { describe, expect, it } from 'vitest'
import { SocketCloudClientError } from '../errors'
import { encodeNameSegment, queryString } from './names'

// Goal: any valid key travels as exactly one path segment and decodes back to itself; invalid keys are
// refused before a request is sent. Method: encode, decode with the standard decoder, compare.
describe('encodeNameSegment', () => {
  it('percent-encodes slashes, spaces, reserved characters and unicode as one segment', () => {
    for (const key of [
      'a/b/c',
      'with space',
      'q?x=1#frag',
      '100%',
      'é/日本/🙂',
      'a+b',
      '...',
      'a/..',
      '%2F',
    ]) {
      const segment = encodeNameSegment(key, 'key')
      expect(segment).not.toMatch(/[/?# ]/)
      expect(decodeURIComponent(segment)).toBe(key)
    }
    expect(encodeNameSegment('é/x', 'key')).toBe('%C3%A9%2Fx')
  })

  it('refuses keys the server would refuse, and dot segments URLs cannot carry', () => {
    const refused = [
      '',
      'a\u0000b',
      'tab\there',
      'del\u007f',
      'x'.repeat(513),
      'é'.repeat(257),
      '\ud800',
      '.',
      '..',
    ]
    for (const key of refused) {
      expect(() => encodeNameSegment(key, 'key'), JSON.stringify(key)).toThrow(SocketCloudClientError)
    }
    expect(() => encodeNameSegment('x'.repeat(512), 'key')).not.toThrow()
    expect(() => encodeNameSegment('', 'name')).toThrow(
      expect.objectContaining({ code: 'invalid_name', outcome: 'not_applied' }),
    )
  })
})

describe('queryString', () => {
  it('skips undefined values and encodes spaces as %20', () => {
    expect(queryString({ prefix: 'a b/c', limit: 3, consistency: undefined })).toBe(
      '?prefix=a%20b%2Fc&limit=3',
    )
    expect(queryString({ consistency: undefined })).toBe('')
  })
})
