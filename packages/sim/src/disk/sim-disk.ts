import { StorageError, assert, checkNumber } from '@socketcloud/core'
import type { LogState, LogStore, LogWrite, Snapshot, SnapshotStore } from '@socketcloud/core'
import type { SimRandom } from '../random'
import type { Simulation } from '../simulation'
import { LogModel, checkSnapshot, copySnapshot } from './log-model'

export interface SimDiskOptions {
  /** Name used in trace labels. @default 'disk' */
  readonly name?: string
  /** Time until an unsynced write resolves. @default 0.05 */
  readonly writeLatencyMs?: number
  /** Time an fsync takes (a synced write, a compaction, a snapshot save). @default 2 */
  readonly syncLatencyMs?: number
  /**
   * Probability that a crash tears the unsynced tail instead of losing all of it: a random prefix of
   * the unsynced writes survives, the last one cut after a random number of its entries (its hard
   * state lost) — what a checksummed log keeps after a torn write. @default 0
   */
  readonly tornWriteRate?: number
}

export interface SimDiskStats {
  writes: number
  syncs: number
  /** Unsynced writes lost by crashes. */
  lostWrites: number
  /** Crashes that kept a torn prefix of the unsynced writes. */
  tornCrashes: number
  crashes: number
}

type PendingOperation =
  | { readonly kind: 'write'; readonly update: LogWrite }
  | { readonly kind: 'compact'; readonly index: number; readonly term: number }

function applyOperation(model: LogModel, operation: PendingOperation): void {
  if (operation.kind === 'write') model.apply(operation.update)
  else model.compact(operation.index, operation.term)
}

/** One log file: what is durable, what the OS shows (durable plus unsynced writes), and the unsynced writes. */
interface LogFile {
  durable: LogModel
  visible: LogModel
  pending: PendingOperation[]
}

interface SnapshotFile {
  durable: Snapshot | null
}

/**
 * A simulated disk holding named log and snapshot files, with a crash model.
 *
 * Reads see every completed call (the page cache). Durability follows fsync: a write with
 * `sync: true` resolves after `syncLatencyMs`, and at that moment every write made so far to that log
 * becomes durable (group commit falls out of this). `compact` and `SnapshotStore.save` are durable
 * when they resolve. `crash()` throws away everything not durable, and kills every store handle
 * opened before it: their pending and later calls never settle, as in a dead process. Open the stores
 * again with `logStore(name)` / `snapshotStore(name)` to read what survived.
 */
export class SimDisk {
  readonly name: string
  private readonly writeLatencyMs: number
  private readonly syncLatencyMs: number
  private readonly tornWriteRate: number
  private readonly random: SimRandom
  private readonly logs = new Map<string, LogFile>()
  private readonly snapshots = new Map<string, SnapshotFile>()
  private readonly openLogs = new Map<string, SimLogStore>()
  private readonly openSnapshots = new Map<string, SimSnapshotStore>()
  private generation = 0
  private readonly counters: SimDiskStats = { writes: 0, syncs: 0, lostWrites: 0, tornCrashes: 0, crashes: 0 }

  constructor(
    readonly sim: Simulation,
    options: SimDiskOptions = {},
  ) {
    this.name = options.name ?? 'disk'
    this.writeLatencyMs = checkNumber('writeLatencyMs', options.writeLatencyMs ?? 0.05)
    this.syncLatencyMs = checkNumber('syncLatencyMs', options.syncLatencyMs ?? 2)
    this.tornWriteRate = checkNumber('tornWriteRate', options.tornWriteRate ?? 0, 0, 1)
    this.random = sim.random.fork()
  }

  /** The LogStore on file `file`; the same handle until a crash, a fresh one after it. */
  logStore(file = 'log'): SimLogStore {
    const open = this.openLogs.get(file)
    if (open !== undefined && open.isAlive) return open
    const store = new SimLogStore(this, file, this.generation)
    this.openLogs.set(file, store)
    return store
  }

  /** The SnapshotStore on file `file`; the same handle until a crash, a fresh one after it. */
  snapshotStore(file = 'snapshot'): SimSnapshotStore {
    const open = this.openSnapshots.get(file)
    if (open !== undefined && open.isAlive) return open
    const store = new SimSnapshotStore(this, file, this.generation)
    this.openSnapshots.set(file, store)
    return store
  }

  /** Loses every write not yet durable (or tears it, see `tornWriteRate`) and kills open handles. */
  crash(): void {
    this.counters.crashes++
    this.generation++
    for (const [file, log] of this.logs) {
      const lost = log.pending.length
      if (lost > 0 && this.random.chance(this.tornWriteRate)) {
        const survivors = this.random.nextInt(lost)
        const torn = log.pending[survivors]!
        for (const operation of log.pending.slice(0, survivors)) applyOperation(log.durable, operation)
        if (torn.kind === 'write') {
          const tornEntries = torn.update.entries?.length ?? 0
          log.durable.apply(torn.update, tornEntries === 0 ? 0 : this.random.nextInt(tornEntries))
        }
        this.counters.tornCrashes++
        this.sim.note(`${this.name}.torn ${file} kept=${survivors}/${lost}`)
      }
      this.counters.lostWrites += lost
      log.pending = []
      log.visible = log.durable.clone()
    }
    this.sim.note(`${this.name}.crash`)
  }

  get stats(): Readonly<SimDiskStats> {
    return { ...this.counters }
  }

  /** What a reopened log would load right now, had the disk crashed (for invariants and tests). */
  durableLogState(file = 'log'): LogState {
    return this.logFile(file).durable.state()
  }

  /** @internal */
  isCurrent(generation: number): boolean {
    return generation === this.generation
  }

  /** @internal */
  logFile(file: string): LogFile {
    let log = this.logs.get(file)
    if (log === undefined) {
      log = { durable: new LogModel(), visible: new LogModel(), pending: [] }
      this.logs.set(file, log)
    }
    return log
  }

  /** @internal */
  snapshotFile(file: string): SnapshotFile {
    let snapshot = this.snapshots.get(file)
    if (snapshot === undefined) {
      snapshot = { durable: null }
      this.snapshots.set(file, snapshot)
    }
    return snapshot
  }

  /** @internal Resolves `settle` after `delayMs` unless the disk crashed meanwhile. */
  later(generation: number, delayMs: number, label: string, settle: () => void): void {
    this.sim.schedule(delayMs, `${this.name}.${label}`, () => {
      if (this.isCurrent(generation)) settle()
    })
  }

  /** @internal */
  write(generation: number, file: string, update: LogWrite, sync: boolean): Promise<void> {
    const log = this.logFile(file)
    log.visible.validate(update)
    log.visible.apply(update)
    log.pending.push({ kind: 'write', update })
    this.counters.writes++
    return new Promise((resolve) => {
      if (!sync) {
        this.later(generation, this.writeLatencyMs, `write ${file}`, resolve)
        return
      }
      this.later(generation, this.syncLatencyMs, `sync ${file}`, () => {
        this.flush(log)
        resolve()
      })
    })
  }

  /** @internal */
  compact(generation: number, file: string, index: number, term: number): Promise<void> {
    const log = this.logFile(file)
    log.visible.compact(index, term)
    log.pending.push({ kind: 'compact', index, term })
    return new Promise((resolve) => {
      this.later(generation, this.syncLatencyMs, `compact ${file}`, () => {
        this.flush(log)
        resolve()
      })
    })
  }

  /** @internal */
  saveSnapshot(generation: number, file: string, snapshot: Snapshot): Promise<void> {
    checkSnapshot(snapshot)
    const copy = copySnapshot(snapshot)
    const target = this.snapshotFile(file)
    return new Promise((resolve) => {
      // Written aside, synced, renamed: either the whole snapshot is there after a crash, or the old one.
      this.later(generation, this.syncLatencyMs, `snapshot ${file}`, () => {
        target.durable = copy
        this.counters.syncs++
        resolve()
      })
    })
  }

  private flush(log: LogFile): void {
    for (const operation of log.pending) applyOperation(log.durable, operation)
    log.pending = []
    this.counters.syncs++
  }
}

const NEVER: Promise<never> = new Promise<never>(() => undefined)

function closed(what: string): Promise<never> {
  return Promise.reject(new StorageError('CLOSED', `${what} is closed`))
}

/** A LogStore on a SimDisk file. Dead after the disk crashes: its calls then never settle. */
export class SimLogStore implements LogStore {
  private closed = false

  constructor(
    private readonly disk: SimDisk,
    readonly file: string,
    private readonly generation: number,
  ) {}

  get isAlive(): boolean {
    return !this.closed && this.disk.isCurrent(this.generation)
  }

  load(): Promise<LogState> {
    if (!this.disk.isCurrent(this.generation)) return NEVER
    if (this.closed) return closed('log store')
    return new Promise((resolve) => {
      const state = this.disk.logFile(this.file).visible.state()
      this.disk.later(this.generation, 0, `load ${this.file}`, () => resolve(state))
    })
  }

  write(update: LogWrite, options: { readonly sync: boolean }): Promise<void> {
    if (!this.disk.isCurrent(this.generation)) return NEVER
    if (this.closed) return closed('log store')
    assert(options !== null && typeof options === 'object', 'write needs { sync }')
    try {
      return this.disk.write(this.generation, this.file, update, options.sync === true)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  compact(index: number, term: number): Promise<void> {
    if (!this.disk.isCurrent(this.generation)) return NEVER
    if (this.closed) return closed('log store')
    try {
      return this.disk.compact(this.generation, this.file, index, term)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  close(): Promise<void> {
    if (!this.disk.isCurrent(this.generation)) return NEVER
    this.closed = true
    return Promise.resolve()
  }
}

/** A SnapshotStore on a SimDisk file. Dead after the disk crashes: its calls then never settle. */
export class SimSnapshotStore implements SnapshotStore {
  private closed = false

  constructor(
    private readonly disk: SimDisk,
    readonly file: string,
    private readonly generation: number,
  ) {}

  get isAlive(): boolean {
    return !this.closed && this.disk.isCurrent(this.generation)
  }

  save(snapshot: Snapshot): Promise<void> {
    if (!this.disk.isCurrent(this.generation)) return NEVER
    if (this.closed) return closed('snapshot store')
    try {
      return this.disk.saveSnapshot(this.generation, this.file, snapshot)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  load(): Promise<Snapshot | null> {
    if (!this.disk.isCurrent(this.generation)) return NEVER
    if (this.closed) return closed('snapshot store')
    return new Promise((resolve) => {
      const durable = this.disk.snapshotFile(this.file).durable
      const snapshot = durable === null ? null : copySnapshot(durable)
      this.disk.later(this.generation, 0, `load ${this.file}`, () => resolve(snapshot))
    })
  }

  close(): Promise<void> {
    if (!this.disk.isCurrent(this.generation)) return NEVER
    this.closed = true
    return Promise.resolve()
  }
}
