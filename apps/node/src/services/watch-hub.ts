import { checkLimit, toError } from '@socketcloud/core'

/** A key-value change as watchers see it; `revision` is the store revision the change produced. */
export type WatchEvent =
  | {
      readonly type: 'put'
      readonly key: string
      readonly value: Uint8Array
      readonly revision: number
      readonly createRevision: number
      readonly version: number
    }
  | { readonly type: 'delete'; readonly key: string; readonly revision: number }

/** Where a watch delivers. Called synchronously from the apply path: do no more than queue. */
export interface WatchSink {
  event(event: WatchEvent): void
  /** Sent once, after the history replay: every event up to `revision` has been delivered. */
  synced(revision: number): void
  /** The watch cannot continue without a gap (history restarted behind it); it has been cancelled. */
  compacted(compactRevision: number): void
}

export interface WatchHubOptions {
  /** Events kept for `from_revision` replays; older ones are compacted. @default 10,000 */
  readonly watchHistoryEventsMax?: number
  /** Bytes of keys and values kept in the history; the oldest events go first. @default 64 MiB */
  readonly watchHistoryBytesMax?: number
  /** Where a sink's exception goes (it never reaches the apply path). @default rethrown on a microtask */
  readonly onSinkError?: (error: Error) => void
}

export const WATCH_HUB_DEFAULTS = Object.freeze({
  watchHistoryEventsMax: 10_000,
  watchHistoryBytesMax: 64 * 1024 * 1024,
})

export type WatchStart =
  | { readonly ok: true; readonly cancel: () => void }
  | { readonly ok: false; readonly compactRevision: number }

interface Watcher {
  readonly prefix: string
  readonly sink: WatchSink
  /** The next revision this watcher must see; a gap before it means it has to be compacted. */
  nextRevision: number
}

const EVENT_OVERHEAD_BYTES = 64

/**
 * Fans key-value changes out to watchers and keeps a bounded history so a watcher can start from a
 * past revision. The node's state machine records every applied change here; the hub is a side
 * observer of the apply path — it never changes what `apply` returns, and a failing sink is reported,
 * never thrown into consensus.
 *
 * The history holds consecutive revisions `[firstRevision, revision]`. A watch from an older revision
 * is refused as compacted; after a snapshot restore the history restarts at the restored revision,
 * and live watchers that would miss the skipped changes are told so (compacted) and dropped.
 */
export class WatchHub {
  readonly watchHistoryEventsMax: number
  readonly watchHistoryBytesMax: number
  private readonly onSinkError: (error: Error) => void
  private history: WatchEvent[] = []
  private historyStart = 0
  private historyBytes = 0
  /** Oldest revision still replayable. */
  private firstRevisionValue = 1
  /** Store revision of the last recorded change (or of the restored snapshot). */
  private revisionValue = 0
  private readonly watchers = new Set<Watcher>()

  constructor(options: WatchHubOptions = {}) {
    this.watchHistoryEventsMax = checkLimit(
      'watchHistoryEventsMax',
      options.watchHistoryEventsMax ?? WATCH_HUB_DEFAULTS.watchHistoryEventsMax,
    )
    this.watchHistoryBytesMax = checkLimit(
      'watchHistoryBytesMax',
      options.watchHistoryBytesMax ?? WATCH_HUB_DEFAULTS.watchHistoryBytesMax,
    )
    this.onSinkError =
      options.onSinkError ??
      ((error) =>
        queueMicrotask(() => {
          throw error
        }))
  }

  get revision(): number {
    return this.revisionValue
  }

  get firstRevision(): number {
    return this.firstRevisionValue
  }

  get watcherCount(): number {
    return this.watchers.size
  }

  /** Records one applied change. Revisions arrive consecutively; a gap restarts the history. */
  record(event: WatchEvent): void {
    if (event.revision !== this.revisionValue + 1) this.restart(event.revision - 1)
    this.revisionValue = event.revision
    this.history.push(event)
    this.historyBytes += eventBytes(event)
    this.trim()
    for (const watcher of this.watchers) {
      if (event.revision < watcher.nextRevision) continue
      watcher.nextRevision = event.revision + 1
      if (!event.key.startsWith(watcher.prefix)) continue
      this.deliver(watcher, () => watcher.sink.event(event))
    }
  }

  /** The state was replaced by a snapshot at store revision `revision`: history restarts there. */
  reset(revision: number): void {
    this.restart(revision)
    this.revisionValue = revision
  }

  /**
   * Starts a watch of keys under `prefix`. With `fromRevision`, replays every retained event with a
   * revision ≥ it first (refused as compacted when older than the history); without, starts at the
   * next revision. Then `synced(currentRevision)`, then live events in revision order.
   */
  watch(prefix: string, fromRevision: number | undefined, sink: WatchSink): WatchStart {
    const from = Math.max(1, fromRevision ?? this.revisionValue + 1)
    if (from < this.firstRevisionValue) return { ok: false, compactRevision: this.firstRevisionValue }
    const watcher: Watcher = { prefix, sink, nextRevision: from }
    for (let position = this.historyStart; position < this.history.length; position++) {
      const event = this.history[position]!
      if (event.revision < from || !event.key.startsWith(prefix)) continue
      this.deliver(watcher, () => sink.event(event))
    }
    watcher.nextRevision = Math.max(from, this.revisionValue + 1)
    this.deliver(watcher, () => sink.synced(this.revisionValue))
    this.watchers.add(watcher)
    return { ok: true, cancel: () => this.watchers.delete(watcher) }
  }

  private restart(revision: number): void {
    this.history = []
    this.historyStart = 0
    this.historyBytes = 0
    this.firstRevisionValue = revision + 1
    for (const watcher of [...this.watchers]) {
      if (watcher.nextRevision > revision) continue
      this.watchers.delete(watcher)
      this.deliver(watcher, () => watcher.sink.compacted(this.firstRevisionValue))
    }
  }

  private trim(): void {
    while (
      this.history.length - this.historyStart > this.watchHistoryEventsMax ||
      (this.historyBytes > this.watchHistoryBytesMax && this.history.length - this.historyStart > 1)
    ) {
      const dropped = this.history[this.historyStart]!
      this.history[this.historyStart] = undefined as unknown as WatchEvent
      this.historyStart++
      this.historyBytes -= eventBytes(dropped)
      this.firstRevisionValue = dropped.revision + 1
    }
    // Compact the array now and then so the dropped prefix does not grow without bound.
    if (this.historyStart > 1024 && this.historyStart * 2 > this.history.length) {
      this.history = this.history.slice(this.historyStart)
      this.historyStart = 0
    }
  }

  private deliver(watcher: Watcher, call: () => void): void {
    try {
      call()
    } catch (thrown) {
      this.watchers.delete(watcher)
      this.onSinkError(toError(thrown))
    }
  }
}

function eventBytes(event: WatchEvent): number {
  return EVENT_OVERHEAD_BYTES + event.key.length * 3 + (event.type === 'put' ? event.value.length : 0)
}
