/**
 * Goal: every Raft message survives the wire exactly, and no malformed payload gets past decode.
 * Method: round-trip one of each type through the codec and core's msgpack envelope; then feed
 * targeted corruptions and random garbage (fast-check) and require a DecodeError every time.
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
    ['entry gap', 'raft.append', { ...append, entries: [[9, 4, 0, new Uint8Array()]] }],
    ['entry term above message', 'raft.append', { ...append, entries: [[8, 6, 0, new Uint8Array()]] }],
    ['entry term decreasing', 'raft.append', { ...append, entries: [[8, 3, 0, new Uint8Array()]] }],
    ['entry kind unknown', 'raft.append', { ...append, entries: [[8, 4, 7, new Uint8Array()]] }],
    ['entry data not bytes', 'raft.append', { ...append, entries: [[8, 4, 0, 'text']] }],
    ['noop with data', 'raft.append', { ...append, entries: [[8, 4, 2, new Uint8Array([1])]] }],
    ['malformed config', 'raft.append', { ...append, entries: [[8, 4, 1, new Uint8Array([123])]] }],
    [
      'duplicate voter in config',
      'raft.append',
      { ...append, entries: [[8, 4, 1, new TextEncoder().encode('{"voters":["a","a"],"learners":[]}')]] },
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
    expect(() => small.decode('raft.append', append)).toThrow(DecodeError)
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
