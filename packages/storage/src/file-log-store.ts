import type { FileHandle } from 'node:fs/promises'
import { writeSync } from 'node:fs'
import { mkdir, open, readFile, readdir, truncate, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type {
  Counter,
  HardState,
  Histogram,
  LogEntry,
  LogState,
  LogStore,
  LogWrite,
  Logger,
  Metrics,
} from '@socketcloud/core'
import {
  DecodeError,
  LimitExceededError,
  StorageError,
  assert,
  checkLimit,
  noopLogger,
  noopMetrics,
  utf8Encode,
} from '@socketcloud/core'
import { LogModel } from './core/log-model'
import { decodeLogMeta, encodeLogMeta } from './core/log-meta'
import { encodeCompaction, encodeEntry, encodeHardState, encodeSegmentHeader } from './core/log-records'
import { checkComplete, replaySegments } from './core/log-replay'
import type { CompactionFloor, LogDamage, SegmentBytes } from './core/log-replay'
import { FRAME_HEADER_BYTES } from './core/record-frame'
import { ioError, replaceFileDurably, syncDirectory } from './io/fs-durability'

export interface FileLogStoreInit {
  /** A segment rotates before a record would take it past this size. @default 64 MiB */
  readonly segmentBytesMax?: number
  /** Largest record payload (entry data plus ~17 bytes); larger writes are refused. @default 32 MiB */
  readonly recordBytesMax?: number
  /** Bytes accepted but not yet written to the file; further writes wait their turn. @default 64 MiB */
  readonly queuedBytesMax?: number
  readonly logger?: Logger
  /** `socketcloud_storage_log_fsyncs_total`, `..._bytes_written_total`, `..._fsync_seconds`. */
  readonly metrics?: Metrics
}

interface LogMetrics {
  readonly fsyncs: Counter
  readonly bytesWritten: Counter
  readonly fsyncSeconds: Histogram
}

function createLogMetrics(metrics: Metrics): LogMetrics {
  return {
    fsyncs: metrics.counter({
      name: 'socketcloud_storage_log_fsyncs_total',
      help: 'fdatasync calls on log segments',
    }),
    bytesWritten: metrics.counter({
      name: 'socketcloud_storage_log_bytes_written_total',
      help: 'bytes written to log segments',
    }),
    fsyncSeconds: metrics.histogram({
      name: 'socketcloud_storage_log_fsync_seconds',
      help: 'duration of one fdatasync of a log segment',
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    }),
  }
}

/** What the open-time scan found and cut off. */
export interface LogRecovery {
  readonly damage: LogDamage | null
  /** Segment files deleted because they followed the damage. */
  readonly segmentsDropped: number
  readonly bytesDropped: number
}

export interface FileLogStoreStats {
  writes: number
  /** fsync/fdatasync calls on segment files (group commit makes this far smaller than `writes`). */
  syncs: number
  bytesWritten: number
  rotations: number
  segmentsDeleted: number
}

export const FILE_LOG_DEFAULTS = Object.freeze({
  segmentBytesMax: 64 * 1024 * 1024,
  recordBytesMax: 32 * 1024 * 1024,
  queuedBytesMax: 64 * 1024 * 1024,
})

const SEGMENT_NAME = /^(\d{16})\.wal$/
const META_NAME = 'log.meta'
const ENTRY_KINDS = new Set(['command', 'config', 'noop'])
const VOTE_BYTES_MAX = 1024

function segmentName(sequence: number): string {
  return `${sequence.toString().padStart(16, '0')}.wal`
}

type Operation =
  | { readonly kind: 'append'; readonly bytes: Uint8Array }
  | { readonly kind: 'rotate'; readonly sequence: number; readonly header: Uint8Array }

interface Waiter {
  readonly ticket: number
  readonly sync: boolean
  readonly resolve: () => void
  readonly reject: (error: Error) => void
}

interface Admission {
  readonly prepare: () => number
  readonly sync: boolean
  readonly resolve: (ticket: number) => void
  readonly reject: (error: Error) => void
}

/**
 * LogStore on files. The log is a directory of segment files (`0000000000000001.wal`, ...), each a
 * sequence of checksummed records: a header, then entries, hard states and compaction points in the
 * order they were written. Every call is applied to an in-memory model synchronously, in call order,
 * and queued; one writer loop drains the queue with one `writev` per batch and one `fdatasync` for
 * every sync waiter that batch covers (group commit). A failed write poisons the store: every
 * pending and later call rejects with the same StorageError, and the node must reopen it.
 *
 * Not safe for two processes on one directory: the caller owns the directory exclusively.
 */
export class FileLogStore implements LogStore {
  readonly directory: string
  readonly recovery: LogRecovery
  readonly stats: FileLogStoreStats = {
    writes: 0,
    syncs: 0,
    bytesWritten: 0,
    rotations: 0,
    segmentsDeleted: 0,
  }
  private readonly segmentBytesMax: number
  private readonly recordBytesMax: number
  private readonly queuedBytesMax: number
  private readonly logger: Logger
  private readonly metrics: LogMetrics
  private readonly model: LogModel
  private openState: LogState | null

  /** Segments in the directory or queued for creation, oldest first; the last is the logical active one. */
  private readonly segments: number[]
  /** `lastIndex` from each segment's header: a segment may start a replay only once the floor reaches it. */
  private readonly headerLastIndexes = new Map<number, number>()
  private floor: CompactionFloor | null
  private logicalActiveBytes: number
  /** Whether the logical active segment holds a record besides its header (so rotating it is useful). */
  private logicalActiveHasRecords: boolean

  private handle: FileHandle
  private physicalSequence: number
  private physicalPosition: number
  private physicalDirty = false

  private readonly queue: Operation[] = []
  private queuedBytes = 0
  private enqueuedTicket = 0
  private writtenTicket = 0
  private readonly waiters: Waiter[] = []
  private readonly admissions: Admission[] = []
  private flushing: Promise<void> = Promise.resolve()
  private flushRunning = false
  private deletion: Promise<void> = Promise.resolve()
  private failure: StorageError | null = null
  private closed = false
  private closing: Promise<void> | null = null

  private constructor(state: {
    directory: string
    init: Required<Omit<FileLogStoreInit, 'logger' | 'metrics'>> & { logger: Logger; metrics: Metrics }
    model: LogModel
    openState: LogState
    recovery: LogRecovery
    segments: number[]
    headerLastIndexes: readonly number[]
    floor: CompactionFloor | null
    handle: FileHandle
    activeBytes: number
    activeHasRecords: boolean
  }) {
    this.directory = state.directory
    this.segmentBytesMax = state.init.segmentBytesMax
    this.recordBytesMax = state.init.recordBytesMax
    this.queuedBytesMax = state.init.queuedBytesMax
    this.logger = state.init.logger
    this.metrics = createLogMetrics(state.init.metrics)
    this.model = state.model
    this.openState = state.openState
    this.recovery = state.recovery
    this.segments = state.segments
    state.segments.forEach((sequence, position) => {
      this.headerLastIndexes.set(sequence, state.headerLastIndexes[position]!)
    })
    this.floor = state.floor
    this.handle = state.handle
    this.physicalSequence = state.segments[state.segments.length - 1]!
    this.physicalPosition = state.activeBytes
    this.logicalActiveBytes = state.activeBytes
    this.logicalActiveHasRecords = state.activeHasRecords
  }

  /**
   * Opens (creating if needed) the log in `directory`. Scans every segment, and at the first record
   * that is torn, corrupt or inconsistent truncates the log there — that segment is cut and later
   * segments are deleted, durably — before anything is appended. `recovery` says what was cut.
   */
  static async open(directory: string, init: FileLogStoreInit = {}): Promise<FileLogStore> {
    const options = {
      segmentBytesMax: checkLimit(
        'segmentBytesMax',
        init.segmentBytesMax ?? FILE_LOG_DEFAULTS.segmentBytesMax,
        256,
        2 ** 31 - 1,
      ),
      recordBytesMax: checkLimit(
        'recordBytesMax',
        init.recordBytesMax ?? FILE_LOG_DEFAULTS.recordBytesMax,
        64,
        2 ** 31 - 1,
      ),
      queuedBytesMax: checkLimit('queuedBytesMax', init.queuedBytesMax ?? FILE_LOG_DEFAULTS.queuedBytesMax),
      logger: init.logger ?? noopLogger,
      metrics: init.metrics ?? noopMetrics,
    }
    try {
      await mkdir(directory, { recursive: true })
    } catch (thrown) {
      throw ioError('mkdir', directory, thrown)
    }
    const floor = await readFloor(directory, options.logger)
    const listed = await listSegments(directory)
    const segmentBytes: SegmentBytes[] = []
    for (const sequence of listed) {
      const path = join(directory, segmentName(sequence))
      try {
        segmentBytes.push({ sequence, bytes: await readFile(path) })
      } catch (thrown) {
        throw ioError('read', path, thrown)
      }
    }
    const replay = replaySegments(segmentBytes, options.recordBytesMax, floor)
    const recovery = await repair(directory, segmentBytes, replay.damage, options.logger)
    let surviving = segmentBytes.map((segment) => segment.sequence)
    let activeBytes = 0
    let activeHasRecords = false
    if (replay.damage !== null) {
      const keep = replay.damage.offset > 0 ? replay.damage.position + 1 : replay.damage.position
      surviving = surviving.slice(0, keep)
    }
    let model = replay.model
    let headerLastIndexes = replay.headerLastIndexes.slice(0, surviving.length)
    let handle: FileHandle
    if (model === null || surviving.length === 0) {
      assert(surviving.length === 0, 'segments survived without a model')
      // Nothing intact is left; the log restarts at the durable compaction point, if any.
      const sequence = listed[0] ?? 1
      const start = {
        compactedIndex: floor?.index ?? 0,
        compactedTerm: floor?.term ?? 0,
        lastIndex: floor?.index ?? 0,
        hardState: null,
      }
      const header = encodeSegmentHeader({ sequence, previousSegmentBytes: 0, ...start })
      const path = join(directory, segmentName(sequence))
      try {
        handle = await open(path, 'wx')
        await handle.write(header, 0, header.length, 0)
        await handle.datasync()
      } catch (thrown) {
        throw ioError('create segment', path, thrown)
      }
      await syncDirectory(directory)
      model = new LogModel(start, true)
      surviving = [sequence]
      headerLastIndexes = [start.lastIndex]
      activeBytes = header.length
    } else {
      checkComplete(model)
      const last = surviving.length - 1
      activeBytes = replay.intactBytes[last]!
      activeHasRecords = replay.recordCounts[last]! > 0
      const path = join(directory, segmentName(surviving[last]!))
      try {
        handle = await open(path, 'r+')
      } catch (thrown) {
        throw ioError('open segment', path, thrown)
      }
    }
    const openState: LogState = {
      hardState: model.hardState,
      entries: model.liveEntries(),
      compactedIndex: model.compactedIndex,
      compactedTerm: model.compactedTerm,
    }
    model.dropEntryData()
    return new FileLogStore({
      directory,
      init: options,
      model,
      openState,
      recovery,
      segments: surviving,
      headerLastIndexes,
      floor,
      handle,
      activeBytes,
      activeHasRecords,
    })
  }

  /**
   * The log as stored. The first call after `open` returns what the open-time scan read; later calls
   * flush queued writes and read the files again.
   */
  async load(): Promise<LogState> {
    this.checkUsable()
    if (this.openState !== null) {
      const state = this.openState
      this.openState = null
      return state
    }
    await this.drain()
    const segmentBytes: SegmentBytes[] = []
    for (const sequence of this.segments) {
      const path = join(this.directory, segmentName(sequence))
      try {
        segmentBytes.push({ sequence, bytes: await readFile(path) })
      } catch (thrown) {
        throw ioError('read', path, thrown)
      }
    }
    const replay = replaySegments(segmentBytes, this.recordBytesMax, this.floor)
    if (replay.damage !== null || replay.model === null) {
      throw new StorageError('CORRUPT', 'log changed under the store', { damage: replay.damage })
    }
    return {
      hardState: replay.model.hardState,
      entries: replay.model.liveEntries(),
      compactedIndex: replay.model.compactedIndex,
      compactedTerm: replay.model.compactedTerm,
    }
  }

  write(update: LogWrite, options: { readonly sync: boolean }): Promise<void> {
    this.openState = null
    return this.submit(() => this.applyWrite(update), options.sync).then(() => undefined)
  }

  /**
   * Durably records the compaction point, then deletes the segment files that hold no live entry.
   * Resolves once the record is fsynced and the files are gone.
   */
  async compact(index: number, term: number): Promise<void> {
    refuseUnless(
      Number.isSafeInteger(index) && index >= 0,
      'compaction index must be a non-negative integer',
      { index },
    )
    refuseUnless(Number.isSafeInteger(term) && term >= 0, 'compaction term must be a non-negative integer', {
      term,
    })
    this.openState = null
    let liveFrom = 0
    await this.submit(() => {
      const plan = this.model.planCompaction(index, term)
      if (plan === null) return 0
      this.place(encodeCompaction(plan))
      this.model.applyCompaction(plan)
      // Every live entry now sits in this segment or a later one; later writes never move them lower.
      liveFrom = this.model.oldestLiveSegment ?? this.segments[this.segments.length - 1]!
      return 1
    }, true)
    if (liveFrom > 0) await this.deleteSegmentsBefore(liveFrom, { index, term })
  }

  /** Flushes and fsyncs everything queued, then closes the active segment. Later calls reject CLOSED. */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    this.closed = true
    try {
      // A failed store has nothing more to make durable; its callers already have the error.
      if (this.failure === null) {
        await this.drain()
        await this.deletion
        await this.syncActive()
      }
    } finally {
      await this.handle.close()
    }
  }

  private checkUsable(): void {
    if (this.failure !== null) throw this.failure
    if (this.closed) throw new StorageError('CLOSED', 'log store is closed', { directory: this.directory })
  }

  private submit(prepare: () => number, sync: boolean): Promise<number> {
    try {
      this.checkUsable()
    } catch (error) {
      return Promise.reject(error)
    }
    return new Promise<number>((resolve, reject) => {
      this.admissions.push({ prepare, sync, resolve, reject })
      this.admit()
    })
  }

  /** Applies queued calls to the model, in call order, while the write queue has room. */
  private admit(): void {
    if (this.failure !== null) {
      for (const admission of this.admissions.splice(0)) admission.reject(this.failure)
      return
    }
    while (this.admissions.length > 0 && this.queuedBytes < this.queuedBytesMax) {
      const admission = this.admissions.shift()!
      let records: number
      try {
        records = admission.prepare()
      } catch (error) {
        admission.reject(error as Error)
        continue
      }
      const ticket = ++this.enqueuedTicket
      this.stats.writes++
      if (records === 0 && !admission.sync) {
        admission.resolve(ticket)
        continue
      }
      this.waiters.push({
        ticket,
        sync: admission.sync,
        resolve: () => admission.resolve(ticket),
        reject: admission.reject,
      })
    }
    if (!this.flushRunning && this.waiters.length > 0) {
      this.flushRunning = true
      this.flushing = this.flushLoop()
    }
  }

  /** Validates a write completely before changing anything, then encodes it into the queue. */
  private applyWrite(update: LogWrite): number {
    const entries = update.entries ?? []
    const frames: Uint8Array[] = []
    entries.forEach((entry, position) => {
      checkEntry(entry)
      if (entry.index !== entries[0]!.index + position) {
        throw new StorageError('OUT_OF_ORDER', 'entries of one write must be contiguous', {
          expected: entries[0]!.index + position,
          index: entry.index,
        })
      }
      frames.push(encodeEntry(entry))
    })
    this.model.checkAppend(entries)
    if (update.hardState !== undefined) {
      checkHardState(update.hardState)
      frames.push(encodeHardState(update.hardState))
    }
    for (const frame of frames) {
      if (frame.length - FRAME_HEADER_BYTES - 1 > this.recordBytesMax) {
        throw new LimitExceededError(
          'recordBytesMax',
          frame.length - FRAME_HEADER_BYTES - 1,
          this.recordBytesMax,
        )
      }
    }
    // Entries go before the hard state: a surviving hard state then implies its entries survived.
    entries.forEach((entry, position) => {
      this.place(frames[position]!)
      this.model.append(entry, this.segments[this.segments.length - 1]!)
    })
    if (update.hardState !== undefined) {
      this.place(frames[frames.length - 1]!)
      this.model.hardState = update.hardState
    }
    return frames.length
  }

  /** Queues one record, rotating first when it would overflow a segment that already holds records. */
  private place(frame: Uint8Array): void {
    const active = this.segments[this.segments.length - 1]!
    if (this.logicalActiveBytes + frame.length > this.segmentBytesMax && this.logicalActiveHasRecords) {
      const sequence = active + 1
      const header = encodeSegmentHeader({
        sequence,
        compactedIndex: this.model.compactedIndex,
        compactedTerm: this.model.compactedTerm,
        lastIndex: this.model.lastIndex,
        previousSegmentBytes: this.logicalActiveBytes,
        hardState: this.model.hardState,
      })
      this.headerLastIndexes.set(sequence, this.model.lastIndex)
      this.queue.push({ kind: 'rotate', sequence, header })
      this.segments.push(sequence)
      this.logicalActiveBytes = header.length
      this.logicalActiveHasRecords = false
      this.queuedBytes += header.length
    }
    this.logicalActiveHasRecords = true
    this.queue.push({ kind: 'append', bytes: frame })
    this.logicalActiveBytes += frame.length
    this.queuedBytes += frame.length
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.waiters.length > 0) {
        const operations = this.queue.splice(0)
        const ticket = this.enqueuedTicket
        let pending: Uint8Array[] = []
        let batchBytes = 0
        for (const operation of operations) {
          if (operation.kind === 'append') {
            pending.push(operation.bytes)
            batchBytes += operation.bytes.length
            continue
          }
          this.writeActive(pending)
          pending = []
          await this.rotate(operation.sequence, operation.header)
          batchBytes += operation.header.length
        }
        this.writeActive(pending)
        this.queuedBytes -= batchBytes
        this.writtenTicket = ticket
        this.settle((waiter) => !waiter.sync)
        this.admit()
        if (this.waiters.some((waiter) => waiter.sync && waiter.ticket <= this.writtenTicket)) {
          await this.syncActive()
          this.settle(() => true)
        }
      }
    } catch (thrown) {
      this.fail(thrown instanceof StorageError ? thrown : ioError('write', this.directory, thrown))
    } finally {
      this.flushRunning = false
    }
  }

  /** Resolves waiters covered by the written ticket that `eligible` accepts (sync ones only after fsync). */
  private settle(eligible: (waiter: Waiter) => boolean): void {
    let kept = 0
    for (const waiter of this.waiters) {
      if (waiter.ticket <= this.writtenTicket && eligible(waiter)) waiter.resolve()
      else this.waiters[kept++] = waiter
    }
    this.waiters.length = kept
  }

  private fail(error: StorageError): void {
    if (this.failure === null) {
      this.failure = error
      this.logger.error({ err: error, directory: this.directory }, 'log store failed; it must be reopened')
    }
    for (const waiter of this.waiters.splice(0)) waiter.reject(error)
    for (const admission of this.admissions.splice(0)) admission.reject(error)
  }

  /**
   * Writes the buffers at the end of the active segment as one contiguous `pwrite`. The write is
   * synchronous on purpose: it only copies into the page cache (tens of microseconds for a batch),
   * while a thread-pool round trip costs two context switches, which on a busy machine is the larger
   * part of a commit's latency. The fsync, which waits for the disk, stays asynchronous.
   */
  private writeActive(buffers: Uint8Array[]): void {
    if (buffers.length === 0) return
    // One copy into a single buffer is far cheaper than a writev with hundreds of small iovecs.
    const bytes = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers)
    try {
      let written = 0
      while (written < bytes.length) {
        const count = writeSync(
          this.handle.fd,
          bytes,
          written,
          bytes.length - written,
          this.physicalPosition + written,
        )
        if (count <= 0) throw new Error('write made no progress')
        written += count
      }
    } catch (thrown) {
      throw ioError('write', this.activePath(), thrown)
    }
    this.physicalPosition += bytes.length
    this.physicalDirty = true
    this.stats.bytesWritten += bytes.length
    this.metrics.bytesWritten.inc({}, bytes.length)
  }

  private async syncActive(): Promise<void> {
    if (!this.physicalDirty) return
    const started = performance.now()
    try {
      await this.handle.datasync()
    } catch (thrown) {
      throw ioError('fdatasync', this.activePath(), thrown)
    }
    this.physicalDirty = false
    this.stats.syncs++
    this.metrics.fsyncs.inc()
    this.metrics.fsyncSeconds.observe({}, (performance.now() - started) / 1000)
  }

  /** The active segment's path, for error context (built only when needed: writes are hot). */
  private activePath(): string {
    return join(this.directory, segmentName(this.physicalSequence))
  }

  private async rotate(sequence: number, header: Uint8Array): Promise<void> {
    assert(sequence === this.physicalSequence + 1, 'segments rotate in sequence')
    // The old segment is synced now because later fsyncs only cover the new file.
    if (this.physicalDirty) await this.syncActive()
    await this.handle.close()
    const path = join(this.directory, segmentName(sequence))
    try {
      this.handle = await open(path, 'wx')
    } catch (thrown) {
      throw ioError('create segment', path, thrown)
    }
    this.physicalSequence = sequence
    this.physicalPosition = 0
    this.writeActive([header])
    await syncDirectory(this.directory)
    this.stats.rotations++
  }

  /**
   * Deletes the segments before the newest segment `first` that can start a replay on its own: every
   * live entry is in `first` or later (`first <= liveFrom`), and the floor covers every entry its
   * header says came before it. The floor is made durable in the meta file before any file goes.
   */
  private deleteSegmentsBefore(liveFrom: number, floor: CompactionFloor): Promise<void> {
    const run = async (): Promise<void> => {
      let first: number | undefined
      for (const sequence of this.segments) {
        if (sequence > liveFrom || sequence > this.physicalSequence) break
        if (this.headerLastIndexes.get(sequence)! <= floor.index) first = sequence
      }
      if (first === undefined) return
      const doomed = this.segments.filter((sequence) => sequence < first)
      if (doomed.length === 0) return
      if (this.floor === null || this.floor.index < floor.index) {
        await writeFloor(this.directory, floor)
        this.floor = floor
      }
      for (const sequence of doomed) {
        const path = join(this.directory, segmentName(sequence))
        try {
          await unlink(path)
        } catch (thrown) {
          throw ioError('unlink', path, thrown)
        }
        this.segments.splice(this.segments.indexOf(sequence), 1)
        this.headerLastIndexes.delete(sequence)
        this.stats.segmentsDeleted++
      }
      await syncDirectory(this.directory)
    }
    this.deletion = this.deletion.then(run)
    return this.deletion.catch((thrown: unknown) => {
      const error = thrown instanceof StorageError ? thrown : ioError('compact', this.directory, thrown)
      this.fail(error)
      throw error
    })
  }

  private async drain(): Promise<void> {
    while (this.flushRunning || this.admissions.length > 0) {
      if (this.flushRunning) await this.flushing
      else this.admit()
    }
    if (this.failure !== null) throw this.failure
  }
}

/** Malformed input from the caller is refused with StorageError('CORRUPT'), as the simulator's stores do. */
function refuseUnless(condition: boolean, message: string, context: Record<string, unknown>): void {
  if (!condition) throw new StorageError('CORRUPT', message, context)
}

function checkEntry(entry: LogEntry): void {
  const context = { index: entry?.index, term: entry?.term }
  refuseUnless(
    Number.isSafeInteger(entry?.index) && entry.index >= 1,
    'entry index must be a positive integer',
    context,
  )
  refuseUnless(
    Number.isSafeInteger(entry.term) && entry.term >= 0,
    'entry term must be a non-negative integer',
    context,
  )
  refuseUnless(ENTRY_KINDS.has(entry.kind), 'entry kind must be command, config or noop', context)
  refuseUnless(entry.data instanceof Uint8Array, 'entry data must be bytes', context)
}

function checkHardState(hardState: HardState): void {
  const context = { term: hardState?.term, commit: hardState?.commit }
  refuseUnless(
    Number.isSafeInteger(hardState?.term) && hardState.term >= 0,
    'hard state term must be an integer',
    context,
  )
  refuseUnless(
    Number.isSafeInteger(hardState.commit) && hardState.commit >= 0,
    'hard state commit must be an integer',
    context,
  )
  refuseUnless(
    hardState.vote === null || typeof hardState.vote === 'string',
    'hard state vote must be a string or null',
    context,
  )
  if (hardState.vote !== null) {
    refuseUnless(utf8Encode(hardState.vote).length <= VOTE_BYTES_MAX, 'hard state vote is too long', context)
  }
  refuseUnless(
    hardState.extra === undefined || hardState.extra instanceof Uint8Array,
    'hard state extra must be bytes',
    context,
  )
}

async function readFloor(directory: string, logger: Logger): Promise<CompactionFloor | null> {
  const path = join(directory, META_NAME)
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (thrown) {
    if ((thrown as { code?: unknown }).code === 'ENOENT') return null
    throw ioError('read', path, thrown)
  }
  try {
    return decodeLogMeta(bytes)
  } catch (thrown) {
    if (!(thrown instanceof DecodeError)) throw thrown
    // Without the floor, replay fails loudly if deleted segments left a hole; otherwise it is not needed.
    logger.warn({ path, reason: thrown.message }, 'ignoring damaged log meta file')
    return null
  }
}

/** Replaces the meta file atomically: temporary file, fsync, rename, fsync the directory. */
async function writeFloor(directory: string, floor: CompactionFloor): Promise<void> {
  const path = join(directory, META_NAME)
  const temporary = `${path}.tmp`
  await replaceFileDurably(directory, temporary, path, encodeLogMeta(floor), 'write')
}

async function listSegments(directory: string): Promise<number[]> {
  let names: string[]
  try {
    names = await readdir(directory)
  } catch (thrown) {
    throw ioError('readdir', directory, thrown)
  }
  const sequences: number[] = []
  for (const name of names) {
    const match = SEGMENT_NAME.exec(name)
    if (match !== null) sequences.push(Number(match[1]))
  }
  return sequences.sort((a, b) => a - b)
}

/** Durably cuts the log at `damage`: truncates that segment (deletes it when nothing is intact) and deletes later ones. */
async function repair(
  directory: string,
  segments: readonly SegmentBytes[],
  damage: LogDamage | null,
  logger: Logger,
): Promise<LogRecovery> {
  if (damage === null) return { damage: null, segmentsDropped: 0, bytesDropped: 0 }
  let bytesDropped = 0
  let segmentsDropped = 0
  for (let position = segments.length - 1; position > damage.position; position--) {
    const segment = segments[position]!
    const path = join(directory, segmentName(segment.sequence))
    try {
      await unlink(path)
    } catch (thrown) {
      throw ioError('unlink', path, thrown)
    }
    bytesDropped += segment.bytes.length
    segmentsDropped++
  }
  const damaged = segments[damage.position]!
  const path = join(directory, segmentName(damaged.sequence))
  bytesDropped += damaged.bytes.length - damage.offset
  try {
    if (damage.offset === 0) {
      await unlink(path)
      segmentsDropped++
    } else {
      await truncate(path, damage.offset)
      const handle = await open(path, 'r+')
      try {
        await handle.datasync()
      } finally {
        await handle.close()
      }
    }
  } catch (thrown) {
    throw ioError('truncate', path, thrown)
  }
  await syncDirectory(directory)
  logger.warn({ directory, ...damage, segmentsDropped, bytesDropped }, 'truncated damaged log tail')
  return { damage, segmentsDropped, bytesDropped }
}
