import {
  DecodeError,
  assert,
  expectArray,
  expectBytes,
  expectString,
  expectUint,
  joinedBytes,
  toError,
  type Codec,
  type BytesInParts,
  type BytesOrParts,
  type LogEntry,
  type SnapshotCapture,
  type StateMachine,
} from '@socketcloud/core'
import { decodeEntryEnvelope, ENTRY_ID_LENGTH_MAX, type EntryEnvelope } from './entry-envelope'
import { SessionTable, type SessionRecord, type SessionTableLimits } from './session-table'

/**
 * Everything the log replicates besides the log itself: the application's state machine, the client
 * session table and the log clock. Committed entries go in, in index order, on every replica; the
 * same entries give the same state and the same results everywhere, which is why nothing here reads
 * a clock or keeps unordered state.
 */
export const SNAPSHOT_FORMAT_VERSION = 1

export type ApplyOutcome =
  | { readonly kind: 'result'; readonly envelope: EntryEnvelope; readonly result: Uint8Array }
  | { readonly kind: 'registered'; readonly envelope: EntryEnvelope; readonly sessionId: string }
  | { readonly kind: 'read'; readonly envelope: EntryEnvelope }
  | {
      readonly kind: 'rejected'
      readonly envelope: EntryEnvelope
      readonly reason: 'session-expired' | 'acknowledged' | 'responses-full'
    }
  | { readonly kind: 'malformed'; readonly error: DecodeError }
  | { readonly kind: 'internal' }

export interface ReplicatedStateOptions extends SessionTableLimits {
  readonly codec: Codec
  /** Largest application payload accepted inside an entry. */
  readonly proposalBytesMax: number
  /** Largest snapshot (sessions and machine state together) accepted from storage or a peer. */
  readonly snapshotBytesMax: number
}

export class ReplicatedState {
  readonly sessions: SessionTable
  private appliedIndexValue = 0
  private logTimeMsValue = 0

  constructor(
    readonly machine: StateMachine,
    private readonly options: ReplicatedStateOptions,
  ) {
    this.sessions = new SessionTable(options)
  }

  get appliedIndex(): number {
    return this.appliedIndexValue
  }

  /** The log clock: the largest leader-proposed timestamp among applied entries. */
  get logTimeMs(): number {
    return this.logTimeMsValue
  }

  apply(entry: LogEntry): ApplyOutcome {
    assert(
      entry.index === this.appliedIndexValue + 1,
      `entries apply in order: got ${entry.index} after ${this.appliedIndexValue}`,
    )
    this.appliedIndexValue = entry.index
    if (entry.kind !== 'command') return { kind: 'internal' }
    let envelope: EntryEnvelope
    try {
      envelope = decodeEntryEnvelope(this.options.codec, entry.data, this.options.proposalBytesMax)
    } catch (thrown) {
      if (thrown instanceof DecodeError) return { kind: 'malformed', error: thrown }
      throw thrown
    }
    this.logTimeMsValue = Math.max(this.logTimeMsValue, envelope.timestampMs)
    const timeMs = this.logTimeMsValue
    switch (envelope.operation) {
      case 'register': {
        const sessionId = String(entry.index)
        this.sessions.register(sessionId, timeMs)
        return { kind: 'registered', envelope, sessionId }
      }
      case 'read':
        return { kind: 'read', envelope }
      case 'command': {
        const context = { index: entry.index, term: entry.term, timestampMs: timeMs }
        const outcome = this.sessions.apply(
          envelope.sessionId,
          envelope.sequence,
          envelope.acknowledgedBelow,
          timeMs,
          () => this.machine.apply(envelope.payload, context),
        )
        switch (outcome.kind) {
          case 'applied':
          case 'duplicate':
            return { kind: 'result', envelope, result: outcome.result }
          case 'expired':
            return { kind: 'rejected', envelope, reason: 'session-expired' }
          case 'acknowledged':
            return { kind: 'rejected', envelope, reason: 'acknowledged' }
          case 'responses-full':
            return { kind: 'rejected', envelope, reason: 'responses-full' }
        }
      }
    }
  }

  /** Encodes sessions, log clock and machine state as of the applied index. */
  snapshot(): Uint8Array {
    return this.encodeSnapshot(
      this.logTimeMsValue,
      this.sessions.toRecords(),
      this.machine.snapshot(),
    ).toBytes()
  }

  /**
   * Fixes sessions, log clock and machine state as of the applied index, for a snapshot encoded in
   * steps between applies; the last step gives the bytes `snapshot()` gives now. Sessions are copied
   * at once (they are bounded and small); the machine is captured by its `captureSnapshot`, or
   * encoded whole right away when it has none.
   */
  captureSnapshot(): SnapshotCapture {
    const logTimeMs = this.logTimeMsValue
    const sessions = this.sessions.toRecords()
    const capture = this.machine.captureSnapshot?.() ?? null
    let whole: Uint8Array | BytesInParts | null = capture === null ? this.machine.snapshot() : null
    return {
      step: () => {
        const machine = capture === null ? whole : capture.step()
        if (machine === null) return null
        whole = null
        return this.encodeSnapshot(logTimeMs, sessions, machine)
      },
      release: () => {
        whole = null
        capture?.release()
      },
    }
  }

  private encodeSnapshot(
    logTimeMs: number,
    sessions: SessionRecord[],
    machine: Uint8Array | BytesInParts,
  ): BytesInParts {
    // The machine's bytes, which can be megabytes, are referenced, not copied (Codec.encodeToParts).
    return this.options.codec.encodeToParts([SNAPSHOT_FORMAT_VERSION, logTimeMs, sessions, machine])
  }

  /**
   * Replaces everything with the snapshot taken at `index`. The snapshot is validated before anything
   * changes, so a bad one (DecodeError) leaves the state as it was. Pieces are joined first: decoding
   * reads one array.
   */
  restore(index: number, data: BytesOrParts): void {
    // The limit is checked on the length first, so an oversized snapshot in pieces is never joined.
    checkSnapshotSize(data.length, this.options.snapshotBytesMax)
    const decoded = decodeSnapshot(this.options.codec, joinedBytes(data), this.options.snapshotBytesMax)
    this.machine.restore(decoded.machine)
    this.sessions.restore(decoded.sessions)
    this.logTimeMsValue = decoded.logTimeMs
    this.appliedIndexValue = index
  }
}

interface DecodedSnapshot {
  readonly logTimeMs: number
  readonly sessions: SessionRecord[]
  readonly machine: Uint8Array
}

const SESSIONS_DECODE_MAX = 10_000_000

function checkSnapshotSize(bytes: number, bytesMax: number): void {
  if (bytes > bytesMax) throw new DecodeError('OVERSIZED', `snapshot of ${bytes} bytes exceeds ${bytesMax}`)
}

function decodeSnapshot(codec: Codec, data: Uint8Array, bytesMax: number): DecodedSnapshot {
  checkSnapshotSize(data.length, bytesMax)
  let value: unknown
  try {
    value = codec.decodeValue(data)
  } catch (thrown) {
    throw thrown instanceof DecodeError ? thrown : new DecodeError('MALFORMED', toError(thrown).message)
  }
  const fields = expectArray(value, 'snapshot', 4)
  if (fields[0] !== SNAPSHOT_FORMAT_VERSION) {
    throw new DecodeError('UNSUPPORTED_VERSION', `snapshot format ${String(fields[0])}`, {
      supported: SNAPSHOT_FORMAT_VERSION,
    })
  }
  const logTimeMs = expectUint(fields[1], 'snapshot.logTimeMs')
  const sessions = expectArray(fields[2], 'snapshot.sessions', SESSIONS_DECODE_MAX).map(
    (item, position): SessionRecord => {
      const path = `snapshot.sessions[${position}]`
      const record = expectArray(item, path, 4)
      const responses = expectArray(record[3], `${path}.responses`, SESSIONS_DECODE_MAX).map(
        (pair, responsePosition): [number, Uint8Array] => {
          const responsePath = `${path}.responses[${responsePosition}]`
          const fieldsOfPair = expectArray(pair, responsePath, 2)
          return [
            expectUint(fieldsOfPair[0], `${responsePath}.sequence`),
            expectBytes(fieldsOfPair[1], `${responsePath}.result`, bytesMax),
          ]
        },
      )
      return [
        expectString(record[0], `${path}.id`, ENTRY_ID_LENGTH_MAX),
        expectUint(record[1], `${path}.lastActiveMs`),
        expectUint(record[2], `${path}.acknowledgedBelow`),
        responses,
      ]
    },
  )
  for (let position = 1; position < sessions.length; position++) {
    if (sessions[position]![1] < sessions[position - 1]![1]) {
      throw new DecodeError('INVALID_FIELD', 'snapshot.sessions are not ordered by last activity')
    }
  }
  const machine = expectBytes(fields[3], 'snapshot.machine', bytesMax)
  return { logTimeMs, sessions, machine }
}
