import {
  checkLimit,
  DecodeError,
  expectBoolean,
  expectBytes,
  expectRecord,
  expectUint,
  DEFAULT_LIMITS,
  type EngineMessageCodec,
  type SnapshotMeta,
} from '@socketcloud/core'
import { ByteSlab, decodeEntryBatch, encodeEntryBatch } from './entry-batch'
import { decodeMembership } from './membership'
import type { RaftMessage } from './messages'

export interface RaftMessageCodecOptions {
  /** Entries accepted in one append. @default 65536 */
  readonly entriesPerMessageMax: number
  /** Bytes of one entry's data. @default DEFAULT_LIMITS.envelopeBytesMax */
  readonly entryBytesMax: number
  /** Bytes of one snapshot chunk. @default DEFAULT_LIMITS.envelopeBytesMax */
  readonly snapshotChunkBytesMax: number
  /** Bytes of an encoded membership. @default 256 KiB */
  readonly membershipBytesMax: number
}

const defaults: RaftMessageCodecOptions = {
  entriesPerMessageMax: 65_536,
  entryBytesMax: DEFAULT_LIMITS.envelopeBytesMax,
  snapshotChunkBytesMax: DEFAULT_LIMITS.envelopeBytesMax,
  membershipBytesMax: 256 * 1024,
}

const prefix = 'raft.'

/**
 * Wire form of Raft messages inside core's envelope: type `raft.<kind>`, payload a plain map of the
 * message's fields (without `type`). An append's entries travel as one binary blob (see
 * `entry-batch.ts`: kind, term and length per entry; indices implied by `prevIndex`), which is far
 * cheaper to pack, unpack and validate than one MessagePack value per entry. `decode` trusts
 * nothing: every field is type- and range-checked, entry terms never decrease and never exceed the
 * message's term, and a config entry must hold a valid membership.
 */
export class RaftMessageCodec implements EngineMessageCodec<RaftMessage> {
  private readonly options: RaftMessageCodecOptions
  private readonly slab = new ByteSlab()

  constructor(options: Partial<RaftMessageCodecOptions> = {}) {
    this.options = { ...defaults, ...options }
    checkLimit('entriesPerMessageMax', this.options.entriesPerMessageMax)
    checkLimit('entryBytesMax', this.options.entryBytesMax, 0)
    checkLimit('snapshotChunkBytesMax', this.options.snapshotChunkBytesMax, 0)
    checkLimit('membershipBytesMax', this.options.membershipBytesMax)
  }

  typeOf(message: RaftMessage): string {
    return prefix + message.type
  }

  encode(message: RaftMessage): unknown {
    // Fields are listed explicitly (no spread) so exactly the wire fields are sent, in a stable order.
    switch (message.type) {
      case 'append':
        return {
          term: message.term,
          prevIndex: message.prevIndex,
          prevTerm: message.prevTerm,
          commit: message.commit,
          entries: encodeEntryBatch(message.entries, message.prevIndex, this.slab),
        }
      case 'append-response':
        return {
          term: message.term,
          index: message.index,
          reject: message.reject,
          hintIndex: message.hintIndex,
          hintTerm: message.hintTerm,
        }
      case 'heartbeat':
        return { term: message.term, commit: message.commit, round: message.round }
      case 'heartbeat-response':
        return { term: message.term, round: message.round }
      case 'pre-vote':
        return { term: message.term, lastIndex: message.lastIndex, lastTerm: message.lastTerm }
      case 'vote':
        return {
          term: message.term,
          lastIndex: message.lastIndex,
          lastTerm: message.lastTerm,
          transfer: message.transfer,
        }
      case 'pre-vote-response':
      case 'vote-response':
        return { term: message.term, granted: message.granted }
      case 'snapshot':
        return {
          term: message.term,
          meta: { index: message.meta.index, term: message.meta.term, membership: message.meta.membership },
          totalBytes: message.totalBytes,
          offset: message.offset,
          data: message.data,
        }
      case 'snapshot-response':
        return { term: message.term, index: message.index, offset: message.offset }
      case 'timeout-now':
        return { term: message.term }
    }
  }

  decode(type: string, payload: unknown): RaftMessage {
    if (!type.startsWith(prefix))
      throw new DecodeError('UNKNOWN_TYPE', `not a raft message: ${type}`, { type })
    const kind = type.slice(prefix.length)
    const body = expectRecord(payload, kind)
    const term = expectUint(body.term, `${kind}.term`)
    switch (kind) {
      case 'pre-vote':
      case 'vote': {
        const lastIndex = expectUint(body.lastIndex, `${kind}.lastIndex`)
        const lastTerm = expectUint(body.lastTerm, `${kind}.lastTerm`)
        if (lastTerm > term) throw invalid(`${kind}.lastTerm`, 'exceeds the term')
        if (kind === 'pre-vote') return { type: kind, term, lastIndex, lastTerm }
        return {
          type: kind,
          term,
          lastIndex,
          lastTerm,
          transfer: expectBoolean(body.transfer, 'vote.transfer'),
        }
      }
      case 'pre-vote-response':
      case 'vote-response':
        return { type: kind, term, granted: expectBoolean(body.granted, `${kind}.granted`) }
      case 'append':
        return this.decodeAppend(body, term)
      case 'append-response': {
        const index = expectUint(body.index, 'append-response.index')
        const reject = expectBoolean(body.reject, 'append-response.reject')
        const hintIndex = expectUint(body.hintIndex, 'append-response.hintIndex')
        const hintTerm = expectUint(body.hintTerm, 'append-response.hintTerm')
        if (hintTerm > term) throw invalid('append-response.hintTerm', 'exceeds the term')
        return { type: kind, term, index, reject, hintIndex, hintTerm }
      }
      case 'heartbeat':
        return {
          type: kind,
          term,
          commit: expectUint(body.commit, 'heartbeat.commit'),
          round: expectUint(body.round, 'heartbeat.round'),
        }
      case 'heartbeat-response':
        return { type: kind, term, round: expectUint(body.round, 'heartbeat-response.round') }
      case 'snapshot':
        return this.decodeSnapshot(body, term)
      case 'snapshot-response':
        return {
          type: kind,
          term,
          index: expectUint(body.index, 'snapshot-response.index'),
          offset: expectUint(body.offset, 'snapshot-response.offset'),
        }
      case 'timeout-now':
        return { type: kind, term }
      default:
        throw new DecodeError('UNKNOWN_TYPE', `unknown raft message type: ${type}`, { type })
    }
  }

  private decodeAppend(body: Record<string, unknown>, term: number): RaftMessage {
    const prevIndex = expectUint(body.prevIndex, 'append.prevIndex')
    const prevTerm = expectUint(body.prevTerm, 'append.prevTerm')
    const commit = expectUint(body.commit, 'append.commit')
    if (prevTerm > term) throw invalid('append.prevTerm', 'exceeds the term')
    // The envelope's size limit bounds the blob; the entry count and sizes are checked while reading it.
    const blob = expectBytes(body.entries, 'append.entries', Number.MAX_SAFE_INTEGER)
    const entries = decodeEntryBatch(blob, prevIndex, prevTerm, term, this.options)
    return { type: 'append', term, prevIndex, prevTerm, commit, entries }
  }

  private decodeSnapshot(body: Record<string, unknown>, term: number): RaftMessage {
    const rawMeta = expectRecord(body.meta, 'snapshot.meta')
    const meta: SnapshotMeta = {
      index: expectUint(rawMeta.index, 'snapshot.meta.index'),
      term: expectUint(rawMeta.term, 'snapshot.meta.term'),
      membership: plainBytes(
        expectBytes(rawMeta.membership, 'snapshot.meta.membership', this.options.membershipBytesMax, 1),
      ),
    }
    if (meta.term > term) throw invalid('snapshot.meta.term', 'exceeds the term')
    if (meta.index === 0 || meta.term === 0) throw invalid('snapshot.meta', 'an empty snapshot is never sent')
    decodeMembership(meta.membership, 'snapshot.meta.membership')
    const totalBytes = expectUint(body.totalBytes, 'snapshot.totalBytes')
    const offset = expectUint(body.offset, 'snapshot.offset')
    const data = plainBytes(expectBytes(body.data, 'snapshot.data', this.options.snapshotChunkBytesMax))
    if (offset + data.length > totalBytes) throw invalid('snapshot.data', 'chunk extends past totalBytes')
    return { type: 'snapshot', term, meta, totalBytes, offset, data }
  }
}

/** A plain Uint8Array view (msgpackr hands out Node Buffers; the engine's contract is Uint8Array). */
function plainBytes(value: Uint8Array): Uint8Array {
  return value.constructor === Uint8Array
    ? value
    : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
}

function invalid(field: string, why: string): DecodeError {
  return new DecodeError('INVALID_FIELD', `${field}: ${why}`, { field })
}
