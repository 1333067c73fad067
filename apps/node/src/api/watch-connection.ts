import type { WebSocket } from 'uWebSockets.js'
import type { WatchEvent, WatchSink } from '../services/watch-hub'
import type { HttpMetrics } from './http-metrics'

/** Close codes of the watch protocol (API.md). */
export const WATCH_CLOSE_COMPACTED = 4410
export const WATCH_CLOSE_SLOW_CONSUMER = 4429
const CLOSE_GOING_AWAY = 1001
const SEND_DROPPED = 2

export interface WatchSocketData {
  readonly prefix: string
  readonly fromRevision: number | undefined
  readonly client: string
  connection?: WatchConnection
}

/**
 * One watch over one WebSocket. The hub calls the sink synchronously from the apply path, so the
 * sink only queues a frame; frames are written in a microtask, corked, while the socket holds less
 * than `backpressureBytesMax` unsent; the rest wait in the queue until `drain`. A queue beyond
 * `queueEventsMax` closes the watch with 4429 (the client resumes from the last revision it saw + 1).
 *
 * uWS invalidates the socket at `close`; `closed` guards every later touch.
 */
export class WatchConnection {
  readonly sink: WatchSink
  private readonly queue: string[] = []
  private queueStart = 0
  private flushQueued = false
  private closed = false
  private closing: { code: number; reason: string } | null = null
  private cancelWatch: (() => void) | null = null

  constructor(
    private readonly socket: WebSocket<WatchSocketData>,
    private readonly limits: { readonly queueEventsMax: number; readonly backpressureBytesMax: number },
    private readonly metrics: HttpMetrics,
  ) {
    this.sink = {
      event: (event) => this.enqueue(JSON.stringify(eventFrame(event))),
      synced: (revision) => this.enqueue(JSON.stringify({ type: 'synced', revision })),
      compacted: (compactRevision) => {
        this.cancelWatch = null
        this.enqueue(JSON.stringify({ type: 'error', error: 'compacted', compact_revision: compactRevision }))
        this.closeAfterFlush(WATCH_CLOSE_COMPACTED, 'compacted')
      },
    }
  }

  attach(cancel: () => void): void {
    if (this.closed || this.closing) cancel()
    else this.cancelWatch = cancel
  }

  /** uWS `drain`: the socket took what it held; write more. */
  drain(): void {
    this.flush()
  }

  /** uWS `close`: the socket is gone. */
  closedByPeer(): void {
    this.closed = true
    this.queue.length = 0
    this.cancel()
  }

  /** Server shutdown. */
  shutdown(): void {
    this.cancel()
    this.closeAfterFlush(CLOSE_GOING_AWAY, 'server shutting down')
  }

  private cancel(): void {
    const cancel = this.cancelWatch
    this.cancelWatch = null
    cancel?.()
  }

  private enqueue(frame: string): void {
    if (this.closed || this.closing) return
    if (this.queue.length - this.queueStart >= this.limits.queueEventsMax) {
      this.slowConsumer()
      return
    }
    this.queue.push(frame)
    this.scheduleFlush()
  }

  private slowConsumer(): void {
    this.metrics.refused.inc({ reason: 'watch-slow-consumer' })
    this.cancel()
    this.queue.length = 0
    this.queueStart = 0
    this.queue.push(JSON.stringify({ type: 'error', error: 'slow_consumer' }))
    this.closeAfterFlush(WATCH_CLOSE_SLOW_CONSUMER, 'slow_consumer', true)
  }

  private closeAfterFlush(code: number, reason: string, force = false): void {
    if (this.closed || (this.closing && !force)) return
    this.closing = { code, reason }
    this.scheduleFlush()
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return
    this.flushQueued = true
    queueMicrotask(() => {
      this.flushQueued = false
      this.flush()
    })
  }

  private flush(): void {
    if (this.closed) return
    this.socket.cork(() => {
      while (this.queueStart < this.queue.length) {
        if (this.closing === null && this.socket.getBufferedAmount() >= this.limits.backpressureBytesMax)
          return
        const frame = this.queue[this.queueStart]!
        this.queueStart++
        if (this.socket.send(frame, false) === SEND_DROPPED && this.closing === null) {
          this.slowConsumer()
          return
        }
        this.metrics.watchEvents.inc()
      }
      this.queue.length = 0
      this.queueStart = 0
      if (this.closing) {
        this.closed = true
        this.socket.end(this.closing.code, this.closing.reason)
      }
    })
  }
}

function eventFrame(event: WatchEvent): Record<string, unknown> {
  if (event.type === 'delete') return { type: 'delete', key: event.key, revision: event.revision }
  return {
    type: 'put',
    key: event.key,
    value: Buffer.from(event.value.buffer, event.value.byteOffset, event.value.byteLength).toString('base64'),
    revision: event.revision,
    create_revision: event.createRevision,
    version: event.version,
  }
}
