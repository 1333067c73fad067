/**
 * Goal: every Raft message survives the wire exactly, and no malformed payload gets past decode.
 * Method: round-trip one of each type through the codec and core's msgpack envelope; then feed
 * targeted corruptions and random garbage (fast-check) and require a DecodeError every time. An
 * append's entries travel as one binary blob (entry-batch.ts); its blobs are built here byte by byte
 * (independently of the encoder) so the layout itself is pinned.
 */
import { Codec, DecodeError, NodeId } from '@socketcloud/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeMembership, RaftMessageCodec, raftMessageTypes, type RaftMessage } from '../src/index'

const membership = encodeMembership({ voters: ['a', 'b', 'c'], learners: ['d'] })
const samples: RaftMessage[] = [
  { type: 'pre-vote', term: 4, lastIndex: 10, lastTerm: 3 },
  { type: 'pre-vote-response', term: 4, granted: true },
  { type: 'vote', term: 4, lastIndex: 10, lastTerm: 3, transfer: true },
  { type: 'vote-response', term: 4, granted: false },
  {
    type: 'append',
    term: 5,
    prevIndex: 7,
    prevTerm: 4,
    commit: 6,
    entries: [
      { index: 8, term: 4, kind: 'command', data: new Uint8Array([1, 2, 3]) },
      { index: 9, term: 5, kind: 'noop', data: new Uint8Array(0) },
      { index: 10, term: 5, kind: 'config', data: membership },
    ],
  },
  { type: 'append-response', term: 5, index: 10, reject: true, hintIndex: 7, hintTerm: 4 },
  { type: 'heartbeat', term: 5, commit: 9, round: 12 },
  { type: 'heartbeat-response', term: 5, round: 12 },
  {
    type: 'snapshot',
    term: 5,
    meta: { index: 100, term: 4, membership },
    totalBytes: 10,
    offset: 4,
    data: new Uint8Array([9, 9, 9]),
  },
  { type: 'snapshot-response', term: 5, index: 100, offset: 7 },
  { type: 'timeout-now', term: 5 },
]

describe('RaftMessageCodec', () => {
  const codec = new RaftMessageCodec()
  const envelope = new Codec()
  const sender = NodeId.fromHex('ab'.repeat(32))

  it('covers every message type', () => {
    expect(new Set(samples.map((message) => message.type))).toEqual(new Set(raftMessageTypes))
  })

  for (const message of samples) {
    it(`round-trips ${message.type} through the envelope`, () => {
      const bytes = envelope.encode({ type: codec.typeOf(message), sender, payload: codec.encode(message) })
      const decoded = envelope.decode(bytes)
      expect(codec.decode(decoded.type, decoded.payload)).toEqual(message)
    })
  }

  const append = codec.encode(samples[4]!) as Record<string, unknown>
  const text = new TextEncoder()
  const corruptions: [string, string, unknown][] = [
    ['unknown type', 'raft.bogus', { term: 1 }],
    ['not raft', 'kad.ping', { term: 1 }],
    ['payload not a map', 'raft.vote', [1, 2]],
    ['negative term', 'raft.heartbeat', { term: -1, commit: 0, round: 0 }],
    [
      'fractional index',
      'raft.append-response',
      { term: 1, index: 1.5, reject: false, hintIndex: 0, hintTerm: 0 },
    ],
    ['missing field', 'raft.vote', { term: 1, lastIndex: 0, lastTerm: 0 }],
    ['lastTerm beyond term', 'raft.pre-vote', { term: 1, lastIndex: 0, lastTerm: 2 }],
    ['entries not bytes', 'raft.append', { ...append, entries: [[8, 4, 0, new Uint8Array()]] }],
    ['entries as text', 'raft.append', { ...append, entries: 'text' }],
    ['entry term above message', 'raft.append', { ...append, entries: blobOf([0, 6, []]) }],
    ['entry term decreasing', 'raft.append', { ...append, entries: blobOf([0, 3, []]) }],
    ['entry term zero', 'raft.append', { ...append, prevTerm: 0, entries: blobOf([0, 0, []]) }],
    ['entry term beyond 2^53', 'raft.append', { ...append, entries: blobOf([0, 2 ** 53, []]) }],
    ['entry kind unknown', 'raft.append', { ...append, entries: blobOf([7, 4, []]) }],
    ['noop with data', 'raft.append', { ...append, entries: blobOf([2, 4, [1]]) }],
    ['malformed config', 'raft.append', { ...append, entries: blobOf([1, 4, [123]]) }],
    [
      'duplicate voter in config',
      'raft.append',
      { ...append, entries: blobOf([1, 4, [...text.encode('{"voters":["a","a"],"learners":[]}')]]) },
    ],
    ['truncated entry header', 'raft.append', { ...append, entries: blobOf([0, 4, [1]]).subarray(0, 12) }],
    ['data past the blob', 'raft.append', { ...append, entries: blobOf([0, 4, [1, 2, 3]]).subarray(0, 15) }],
    [
      'trailing byte after an entry',
      'raft.append',
      { ...append, entries: Uint8Array.of(...blobOf([0, 4, []]), 0) },
    ],
    [
      'entry index beyond 2^53',
      'raft.append',
      { ...append, prevIndex: Number.MAX_SAFE_INTEGER, entries: blobOf([0, 4, []]) },
    ],
    [
      'chunk past total',
      'raft.snapshot',
      { term: 5, meta: { index: 1, term: 1, membership }, totalBytes: 2, offset: 1, data: new Uint8Array(2) },
    ],
    [
      'empty membership in snapshot',
      'raft.snapshot',
      {
        term: 5,
        meta: { index: 1, term: 1, membership: new Uint8Array() },
        totalBytes: 0,
        offset: 0,
        data: new Uint8Array(),
      },
    ],
  ]
  for (const [name, type, payload] of corruptions) {
    it(`refuses ${name} with a DecodeError`, () => {
      expect(() => codec.decode(type, payload)).toThrow(DecodeError)
    })
  }

  it('refuses an append with more entries than entriesPerMessageMax', () => {
    const small = new RaftMessageCodec({ entriesPerMessageMax: 1 })
    expect(decodeError(() => small.decode('raft.append', append)).code).toBe('OVERSIZED')
  })

  it('refuses an entry larger than entryBytesMax', () => {
    const small = new RaftMessageCodec({ entryBytesMax: 2 })
    const payload = { ...append, entries: blobOf([0, 4, [1, 2, 3]]) }
    expect(decodeError(() => small.decode('raft.append', payload)).code).toBe('OVERSIZED')
    expect(small.decode('raft.append', { ...append, entries: blobOf([0, 4, [1, 2]]) })).toMatchObject({
      entries: [{ index: 8, term: 4, kind: 'command', data: new Uint8Array([1, 2]) }],
    })
  })

  it('lays entries out as kind u8, term u32+u32, length u32, data (big-endian)', () => {
    const payload = codec.encode({
      type: 'append',
      term: 2 ** 40,
      prevIndex: 0,
      prevTerm: 0,
      commit: 0,
      entries: [{ index: 1, term: 2 ** 32 + 5, kind: 'command', data: new Uint8Array([0xaa, 0xbb]) }],
    }) as { entries: Uint8Array }
    expect([...payload.entries]).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 2, 0xaa, 0xbb])
    expect(payload.entries).toEqual(blobOf([0, 2 ** 32 + 5, [0xaa, 0xbb]]))
  })

  it('refuses to encode entries that do not follow prevIndex contiguously (an engine bug)', () => {
    const gap: RaftMessage = {
      type: 'append',
      term: 1,
      prevIndex: 3,
      prevTerm: 1,
      commit: 0,
      entries: [{ index: 5, term: 1, kind: 'command', data: new Uint8Array() }],
    }
    expect(() => codec.encode(gap)).toThrow(/contiguous/)
  })

  it('decodes entries as plain Uint8Array views of the received frame', () => {
    const decoded = envelope.decode(envelope.encode({ type: 'raft.append', sender, payload: append }))
    const message = codec.decode(decoded.type, decoded.payload)
    expect(message.type === 'append' && message.entries.map((entry) => entry.data.constructor)).toEqual([
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ])
  })

  it('round-trips any valid append through the envelope (property)', () => {
    fc.assert(
      fc.property(appendArbitrary, (message) => {
        const bytes = envelope.encode({ type: codec.typeOf(message), sender, payload: codec.encode(message) })
        const decoded = envelope.decode(bytes)
        expect(codec.decode(decoded.type, decoded.payload)).toEqual(message)
      }),
      { numRuns: 300 },
    )
  })

  it('throws only DecodeError on arbitrary entry blobs (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (blob) => {
        try {
          codec.decode('raft.append', { ...append, entries: blob })
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError)
        }
      }),
      { numRuns: 3000 },
    )
  })

  it('throws only DecodeError on mutated or truncated append envelopes (property)', () => {
    const valid = envelope.encode({ type: 'raft.append', sender, payload: append })
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }),
        fc.nat(valid.length),
        (edits, length) => {
          const mutated = Uint8Array.from(valid)
          for (const [at, value] of edits) mutated[at] = value
          try {
            const decoded = envelope.decode(mutated.subarray(0, length))
            codec.decode(decoded.type, decoded.payload)
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError)
          }
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('throws only DecodeError on arbitrary payloads', () => {
    fc.assert(
      fc.property(fc.constantFrom(...raftMessageTypes), fc.anything(), (type, payload) => {
        try {
          codec.decode(`raft.${type}`, payload)
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError)
        }
      }),
      { numRuns: 2000 },
    )
  })
})

/** Builds an entries blob by hand: each entry is [kind code, term, data bytes]. */
function blobOf(...entries: [number, number, number[]][]): Uint8Array {
  const size = entries.reduce((total, [, , data]) => total + 13 + data.length, 0)
  const blob = new Uint8Array(size)
  const view = new DataView(blob.buffer)
  let offset = 0
  for (const [kind, term, data] of entries) {
    view.setUint8(offset, kind)
    view.setUint32(offset + 1, Math.floor(term / 2 ** 32))
    view.setUint32(offset + 5, term % 2 ** 32)
    view.setUint32(offset + 9, data.length)
    blob.set(data, offset + 13)
    offset += 13 + data.length
  }
  return blob
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

const appendArbitrary: fc.Arbitrary<RaftMessage> = fc
  .record({
    prevIndex: fc.nat({ max: 1_000_000 }),
    prevTerm: fc.nat({ max: 50 }),
    termSteps: fc.array(fc.nat({ max: 3 }), { maxLength: 24 }),
    extraTerm: fc.nat({ max: 3 }),
    commit: fc.nat({ max: 1_000_000 }),
    bodies: fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('command' as const), data: fc.uint8Array({ maxLength: 300 }) }),
        fc.record({ kind: fc.constant('noop' as const), data: fc.constant(new Uint8Array()) }),
        fc.record({ kind: fc.constant('config' as const), data: fc.constant(membership) }),
      ),
      { maxLength: 24 },
    ),
  })
  .map(({ prevIndex, prevTerm, termSteps, extraTerm, commit, bodies }) => {
    let entryTerm = Math.max(prevTerm, 1)
    const entries = bodies.map((body, position) => {
      entryTerm += termSteps[position] ?? 0
      return { index: prevIndex + position + 1, term: entryTerm, ...body }
    })
    return {
      type: 'append' as const,
      term: entryTerm + extraTerm,
      prevIndex,
      prevTerm,
      commit,
      entries,
    }
  })
