// Goal: the envelope codec is the first thing hostile bytes meet, so it must round-trip every valid
// message and turn every malformed, truncated, oversized or wrong-version input into a DecodeError.
// Method: example cases for each refusal, then fast-check properties over generated payloads and bytes.
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { DecodeError, LimitExceededError } from '../errors'
import { NodeId } from '../node-id'
import { BytesInParts } from './bytes-in-parts'
import { Codec, ENVELOPE_VERSION } from './envelope'

const sender = NodeId.fromHex('11'.repeat(32))
const plain = new Packr({ useRecords: false, moreTypes: false })

/** msgpackr hands back Buffers (views into the input); compare them as plain byte arrays. */
function plainBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value)
  if (Array.isArray(value)) return value.map(plainBytes)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plainBytes(item)]))
  }
  return value
}

function decodeError(run: () => unknown): DecodeError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(DecodeError)
    return error as DecodeError
  }
  throw new Error('expected a DecodeError, but decoding succeeded')
}

const payloadArbitrary = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    // MessagePack has no negative zero for integers: msgpackr writes -0 as 0, which is what peers see.
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((value) => !Object.is(value, -0)),
    fc.string(),
    fc.uint8Array({ maxLength: 64 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(
      fc.string({ minLength: 1 }).filter((key) => key !== '__proto__'),
      tie('value'),
      { maxKeys: 5 },
    ),
  ),
})).value

describe('Codec envelope', () => {
  const codec = new Codec()

  it('round-trips an append message of 64 entries', () => {
    const entries = Array.from({ length: 64 }, (_, i) => ({
      index: i + 1,
      term: 3,
      data: new Uint8Array(100).fill(i),
    }))
    const bytes = codec.encode({ type: 'raft.append', sender, payload: { term: 3, entries } })
    const envelope = codec.decode(bytes)
    expect(envelope.version).toBe(ENVELOPE_VERSION)
    expect(envelope.type).toBe('raft.append')
    expect(envelope.sender.equals(sender)).toBe(true)
    expect(plainBytes(envelope.payload)).toEqual({ term: 3, entries })
  })

  it('round-trips any plain payload (property)', () => {
    fc.assert(
      fc.property(payloadArbitrary, (payload) => {
        const decoded = codec.decode(codec.encode({ type: 'test.any', sender, payload }))
        expect(plainBytes(decoded.payload)).toEqual(payload)
      }),
      { numRuns: 300 },
    )
  })

  it('refuses a wrong version with UNSUPPORTED_VERSION', () => {
    const bytes = plain.pack([ENVELOPE_VERSION + 1, 'raft.append', sender.bytes, {}])
    expect(decodeError(() => codec.decode(bytes)).code).toBe('UNSUPPORTED_VERSION')
  })

  it('refuses every strict prefix of a valid envelope', () => {
    const bytes = codec.encode({
      type: 'raft.vote',
      sender,
      payload: { term: 9, candidate: 'abc', log: [1, 2, 3] },
    })
    for (let length = 0; length < bytes.length; length++) {
      const error = decodeError(() => codec.decode(bytes.subarray(0, length)))
      expect(['TRUNCATED', 'MALFORMED']).toContain(error.code)
    }
  })

  it('refuses input over the size limit before parsing it', () => {
    const small = new Codec({ envelopeBytesMax: 128 })
    const bytes = codec.encode({ type: 'test.big', sender, payload: new Uint8Array(200) })
    expect(decodeError(() => small.decode(bytes)).code).toBe('OVERSIZED')
    expect(() => small.encode({ type: 'test.big', sender, payload: new Uint8Array(200) })).toThrow(
      LimitExceededError,
    )
  })

  it('refuses trailing bytes after the envelope', () => {
    const bytes = codec.encode({ type: 'test.x', sender, payload: 1 })
    const padded = new Uint8Array(bytes.length + 1)
    padded.set(bytes)
    decodeError(() => codec.decode(padded))
  })

  it('refuses wrong shapes: not an array, wrong arity, bad type name, short sender', () => {
    expect(decodeError(() => codec.decode(plain.pack({ a: 1 }))).code).toBe('MALFORMED')
    expect(decodeError(() => codec.decode(plain.pack([1, 'a.b', sender.bytes]))).code).toBe('MALFORMED')
    expect(decodeError(() => codec.decode(plain.pack([1, 'NoDot', sender.bytes, 0]))).code).toBe(
      'INVALID_FIELD',
    )
    expect(decodeError(() => codec.decode(plain.pack([1, 'a.b', new Uint8Array(31), 0]))).code).toBe(
      'INVALID_FIELD',
    )
  })

  it('refuses MessagePack extensions and excessive nesting', () => {
    const withDate = new Packr({ useRecords: false }).pack([1, 'a.b', sender.bytes, new Date(0)])
    decodeError(() => codec.decode(withDate))
    let nested: unknown = 0
    for (let i = 0; i < 100; i++) nested = [nested]
    expect(decodeError(() => codec.decode(plain.pack([1, 'a.b', sender.bytes, nested]))).code).toBe(
      'MALFORMED',
    )
  })

  it('refuses an extension or deep nesting wherever it sits among plain values', () => {
    const withDate = new Packr({ useRecords: false })
    const date = withDate.pack([1, 'a.b', sender.bytes, { term: 1, list: [1, 'x', { at: new Date(0) }] }])
    expect(decodeError(() => codec.decode(date)).code).toBe('MALFORMED')
    let nested: unknown = { leaf: new Uint8Array(1) }
    for (let i = 0; i < 100; i++) nested = { inner: nested, n: i }
    expect(decodeError(() => codec.decode(plain.pack([1, 'a.b', sender.bytes, nested]))).code).toBe(
      'MALFORMED',
    )
    const shallow = new Codec({ nestingDepthMax: 3 })
    const decoded = shallow.decode(plain.pack([1, 'a.b', sender.bytes, { a: new Uint8Array(2) }]))
    expect(plainBytes(decoded.payload)).toEqual({ a: new Uint8Array(2) })
  })

  it('never throws anything but DecodeError on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          codec.decode(bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('never throws anything but DecodeError on mutated valid envelopes (property)', () => {
    const valid = codec.encode({
      type: 'raft.append',
      sender,
      payload: { term: 1, entries: [{ i: 1, d: 'x' }] },
    })
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }),
        (edits) => {
          const mutated = Uint8Array.from(valid)
          for (const [at, value] of edits) mutated[at] = value
          try {
            codec.decode(mutated)
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError)
          }
        },
      ),
      { numRuns: 2000 },
    )
  })
})

describe('Codec.encodeToParts', () => {
  const codec = new Codec({ envelopeBytesMax: 1 << 26 })
  const same = (value: unknown, largeBytesMin?: number) =>
    expect(codec.encodeToParts(value, largeBytesMin).toBytes()).toEqual(
      Uint8Array.from(codec.encodeValue(value)),
    )

  it('gives the bytes encodeValue gives, at every length-header boundary', () => {
    for (const length of [0, 1, 255, 256, 65_535, 65_536, 70_000]) {
      const tail = new Uint8Array(length).map((_, i) => i & 0xff)
      same([1, 'socketcloud.kv', [123_456, tail]], 1)
      same([1, 'socketcloud.kv', [123_456, tail]])
    }
    // Arrays of 16 or more elements and of 65,536 or more take the longer headers.
    same(
      Array.from({ length: 20 }, (_, i) => (i === 7 ? new Uint8Array(300) : i)),
      100,
    )
    same(
      Array.from({ length: 70_000 }, (_, i) => (i === 0 ? new Uint8Array(300) : i)),
      100,
    )
  })

  it('references large byte strings instead of copying them', () => {
    const payload = new Uint8Array(100_000)
    const encoded = codec.encodeToParts([1, 'name', [2, payload]])
    expect(encoded.parts).toContain(payload)
  })

  it('matches encodeValue for any nesting of arrays, byte strings in pieces and other values', () => {
    const bytesLeaf = fc.uint8Array({ maxLength: 300 })
    const piecesLeaf = fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 4 })
    const leaf = fc.oneof(
      fc.integer(),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      bytesLeaf,
      piecesLeaf.map((pieces) => new BytesInParts(pieces)),
    )
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('tree'), { maxLength: 20 })),
    }))
    // What the tree means: every BytesInParts as the byte string it joins to.
    const joined = (value: unknown): unknown =>
      value instanceof BytesInParts
        ? value.toBytes().slice()
        : Array.isArray(value)
          ? value.map(joined)
          : value
    fc.assert(
      fc.property(tree, fc.integer({ min: 1, max: 400 }), (value, largeBytesMin) => {
        expect(codec.encodeToParts(value, largeBytesMin).toBytes()).toEqual(
          Uint8Array.from(codec.encodeValue(joined(value))),
        )
      }),
    )
  })
})
