import { Emitter, toError } from '@socketcloud/core'
import WebSocket from 'ws'
import type { IncomingMessage } from 'node:http'
import { backoffDelayMs, parseRetryAfterMs } from './core/backoff'
import { decodeErrorBody } from './core/responses'
import { decodeWatchFrame } from './core/watch-events'
import type { WatchEvent } from './core/watch-events'
import { CompactedError, SocketCloudClientError } from './errors'
import type { ResolvedOptions } from './options'
import { errorFromAnswer } from './requester'

export interface WatchOptions {
  /** First revision wanted (events with revision ≥ this); default: only changes after the watch starts. */
  readonly fromRevision?: number
  /** Ends the watch (the iteration finishes normally). */
  readonly signal?: AbortSignal
}

/** Lifecycle notifications, for logging and tests; the events themselves come through iteration. */
export interface WatchLifecycle {
  /** A WebSocket opened; `fromRevision` is what it asked for (undefined: "from now"). */
  connected: { endpoint: string; fromRevision: number | undefined }
  /** A connection ended; the watch reconnects unless it is closed or failed. */
  disconnected: { endpoint: string; code: number; reason: string }
  /** The watch is over (closed, aborted or failed); `error` is set when it failed. */
  ended: { error: Error | undefined }
}

/** The close codes API.md gives meaning to. */
const CLOSE_COMPACTED = 4410
const CLOSE_SLOW_CONSUMER = 4429
const UPGRADE_ERROR_BYTES_MAX = 64 * 1024

/**
 * A live stream of changes under a prefix, read with `for await`. It survives node failures: when the
 * connection drops it reconnects (next endpoint, exponential backoff with jitter) and resumes from the last
 * revision it delivered + 1, dropping any duplicate, so the consumer sees each revision once and in order.
 * It ends normally on `close()`, on the abort signal or when the loop breaks; it throws `CompactedError` when
 * the history it needs is gone, and `unreachable` after `reconnectAttemptsMax` failed connections in a row.
 *
 * At most `queueEventsMax` events wait for the consumer; beyond that the socket is paused (TCP
 * backpressure) until the consumer catches up, so memory stays bounded. Only one iteration at a time.
 */
export class Watch implements AsyncIterable<WatchEvent> {
  private readonly lifecycle = new Emitter<WatchLifecycle>()
  private readonly queue: WatchEvent[] = []
  private socket: WebSocket | undefined
  private endpointIndex: number
  private nextFrom: number | undefined
  private last = 0
  private failuresInRow = 0
  private failure: Error | undefined
  private closed = false
  private iterating = false
  private wake: (() => void) | undefined
  private readonly stopSleeping = new AbortController()
  private duplicates = 0
  private unknownFrames = 0
  /** The queue overflowed and the socket was dropped; reconnect once the consumer has drained half of it. */
  private reconnectWhenDrained = false

  constructor(
    readonly prefix: string,
    private readonly options: ResolvedOptions,
    firstEndpointIndex: number,
    watchOptions: WatchOptions = {},
  ) {
    const from = watchOptions.fromRevision
    if (from !== undefined && (!Number.isSafeInteger(from) || from < 1)) {
      throw new SocketCloudClientError('invalid_argument', 'fromRevision must be a positive integer', {
        outcome: 'not_applied',
      })
    }
    this.endpointIndex = firstEndpointIndex
    this.nextFrom = from
    this.last = from === undefined ? 0 : from - 1
    const signal = watchOptions.signal
    if (signal?.aborted) {
      this.closed = true
      return
    }
    signal?.addEventListener('abort', () => this.close(), { once: true })
    this.connect()
  }

  /** True once the watch is closed, aborted or failed (a failed one still delivers what it queued, then throws). */
  get ended(): boolean {
    return this.closed || this.failure !== undefined
  }

  /** The highest revision delivered (or announced by `synced`); 0 before any. */
  get lastRevision(): number {
    return this.last
  }

  /** Events dropped because a reconnect replayed a revision already delivered. */
  get duplicatesDropped(): number {
    return this.duplicates
  }

  /** Events waiting for the consumer (never more than `queueEventsMax`). */
  get queuedEvents(): number {
    return this.queue.length
  }

  /** Frames of a type this client does not know, skipped. */
  get unknownFramesSkipped(): number {
    return this.unknownFrames
  }

  /** Subscribes to lifecycle notifications; returns the unsubscribe function. */
  on<K extends keyof WatchLifecycle>(event: K, listener: (value: WatchLifecycle[K]) => void): () => void {
    return this.lifecycle.on(event, listener)
  }

  /** Ends the watch: queued events are dropped and `next()` resolves as done. Idempotent. */
  close(): void {
    if (this.closed) return
    this.closed = true
    // A closed watch delivers nothing more, not even what it had queued.
    this.queue.length = 0
    this.stopSleeping.abort()
    // A paused socket could not read the server's closing frame; resume it (later frames are ignored).
    if (this.socket?.isPaused === true) this.socket.resume()
    this.socket?.close(1000, 'client closed')
    this.notify()
    if (this.failure === undefined) this.lifecycle.emit('ended', { error: undefined })
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    if (this.iterating)
      throw new SocketCloudClientError('invalid_argument', 'a watch has one reader', {
        outcome: 'not_applied',
      })
    this.iterating = true
    return {
      next: () => this.next(),
      return: async () => {
        this.close()
        return { done: true, value: undefined }
      },
    }
  }

  private async next(): Promise<IteratorResult<WatchEvent>> {
    for (;;) {
      const event = this.queue.shift()
      if (event !== undefined) {
        if (this.queue.length <= this.options.watch.queueEventsMax / 2) this.resumeReading()
        return { done: false, value: event }
      }
      if (this.failure !== undefined) {
        const failure = this.failure
        this.closed = true
        this.failure = undefined
        throw failure
      }
      if (this.closed) return { done: true, value: undefined }
      await new Promise<void>((resolve) => {
        this.wake = resolve
      })
    }
  }

  private resumeReading(): void {
    if (this.socket?.isPaused === true) this.socket.resume()
    if (
      this.reconnectWhenDrained &&
      this.socket === undefined &&
      !this.closed &&
      this.failure === undefined
    ) {
      this.reconnectWhenDrained = false
      this.connect()
    }
  }

  private notify(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  private fail(error: Error): void {
    if (this.closed || this.failure !== undefined) return
    this.failure = error
    this.stopSleeping.abort()
    this.socket?.terminate()
    this.notify()
    this.lifecycle.emit('ended', { error })
  }

  private get endpoint(): string {
    return this.options.endpoints[this.endpointIndex]!
  }

  private watchUrl(): string {
    const url = new URL(`${this.endpoint}/v1/watch`)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    const query = [`prefix=${encodeURIComponent(this.prefix)}`]
    if (this.nextFrom !== undefined) query.push(`from_revision=${this.nextFrom}`)
    return `${url.toString()}?${query.join('&')}`
  }

  private connect(): void {
    const endpoint = this.endpoint
    const headers: Record<string, string> = {}
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`
    const fromRevision = this.nextFrom
    const socket = new WebSocket(this.watchUrl(), {
      headers,
      handshakeTimeout: this.options.watch.connectTimeoutMs,
      maxPayload: this.options.watch.messageBytesMax,
      perMessageDeflate: false,
      followRedirects: false,
    })
    this.socket = socket
    let slowConsumer = false
    let refusal: SocketCloudClientError | undefined
    let retryAfterMs: number | undefined
    let lastError: Error | undefined
    // A peer that vanished without closing (a partition, a frozen process) is noticed by a missing pong.
    // While paused the pong cannot be read, so a paused socket is not judged.
    let awaitingPong = false
    const heartbeat = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN) return
      if (socket.isPaused) {
        awaitingPong = false
        return
      }
      if (awaitingPong) {
        lastError = new Error(`no pong within ${this.options.watch.pingIntervalMs} ms`)
        socket.terminate()
        return
      }
      awaitingPong = true
      socket.ping()
    }, this.options.watch.pingIntervalMs)
    heartbeat.unref()
    socket.on('pong', () => {
      awaitingPong = false
    })
    socket.on('open', () => this.lifecycle.emit('connected', { endpoint, fromRevision }))
    socket.on('unexpected-response', (request, response) => {
      this.readRefusal(response, endpoint).then(
        (result) => {
          refusal = result.fatal ? result.error : undefined
          lastError = result.error
          retryAfterMs = result.retryAfterMs
          request.destroy()
          socket.terminate()
        },
        (thrown: unknown) => {
          lastError = toError(thrown)
          request.destroy()
          socket.terminate()
        },
      )
    })
    socket.on('message', (data, isBinary) => {
      // After an overflow drop, later frames from the same socket would leave a gap: ignore them.
      if (socket !== this.socket || this.reconnectWhenDrained || this.closed) return
      if (isBinary) {
        this.fail(this.badFrame(endpoint, 'binary frame'))
        return
      }
      let frame
      try {
        frame = decodeWatchFrame(rawText(data))
      } catch (thrown) {
        this.fail(this.badFrame(endpoint, toError(thrown).message, thrown))
        return
      }
      this.failuresInRow = 0
      switch (frame.kind) {
        case 'unknown':
          this.unknownFrames += 1
          return
        case 'error':
          if (frame.error === 'compacted') {
            this.fail(
              new CompactedError(
                frame.message ??
                  `revision ${this.nextFrom ?? '?'} is compacted (history starts after ${frame.compactRevision ?? '?'})`,
                frame.compactRevision ?? 0,
                { outcome: 'not_applied', endpoint },
              ),
            )
          } else if (frame.error === 'slow_consumer') {
            slowConsumer = true
          } else {
            this.fail(
              new SocketCloudClientError(frame.error, frame.message ?? `watch refused: ${frame.error}`, {
                outcome: 'not_applied',
                endpoint,
              }),
            )
          }
          return
        case 'event':
          this.deliver(frame.event, socket)
      }
    })
    socket.on('error', (error) => {
      lastError = error
    })
    socket.on('close', (code, reasonBytes) => {
      clearInterval(heartbeat)
      if (socket !== this.socket) return
      this.socket = undefined
      const reason = reasonBytes.toString('utf8')
      this.lifecycle.emit('disconnected', { endpoint, code, reason })
      if (this.closed || this.failure !== undefined) return
      if (this.reconnectWhenDrained) {
        if (this.queue.length <= this.options.watch.queueEventsMax / 2) this.resumeReading()
        return
      }
      if (refusal !== undefined) {
        this.fail(refusal)
        return
      }
      if (code === CLOSE_COMPACTED) {
        this.fail(
          new CompactedError(`watch history compacted: ${reason}`, 0, { outcome: 'not_applied', endpoint }),
        )
        return
      }
      this.scheduleReconnect(slowConsumer || code === CLOSE_SLOW_CONSUMER, retryAfterMs, lastError)
    })
  }

  private deliver(event: WatchEvent, socket: WebSocket): void {
    if (event.type !== 'synced' && event.revision <= this.last) {
      this.duplicates += 1
      return
    }
    const queueEventsMax = this.options.watch.queueEventsMax
    if (this.queue.length >= queueEventsMax) {
      // Frames already read from the socket keep arriving after pause(). Rather than grow the queue, drop
      // this one and the connection, and resume from the last queued revision + 1 once the consumer drains.
      this.reconnectWhenDrained = true
      socket.terminate()
      return
    }
    this.last = Math.max(this.last, event.revision)
    this.nextFrom = this.last + 1
    this.queue.push(event)
    if (this.queue.length >= queueEventsMax && !socket.isPaused) socket.pause()
    this.notify()
  }

  private scheduleReconnect(
    sameEndpoint: boolean,
    retryAfterMs: number | undefined,
    cause: Error | undefined,
  ): void {
    this.failuresInRow += 1
    if (this.failuresInRow > this.options.watch.reconnectAttemptsMax) {
      this.fail(
        new SocketCloudClientError(
          'unreachable',
          `watch could not reconnect after ${this.options.watch.reconnectAttemptsMax} attempts${cause ? `: ${cause.message}` : ''}`,
          { outcome: 'not_applied', endpoint: this.endpoint, cause },
        ),
      )
      return
    }
    if (!sameEndpoint) this.endpointIndex = (this.endpointIndex + 1) % this.options.endpoints.length
    const delayMs = backoffDelayMs(
      this.failuresInRow - 1,
      this.options.backoff,
      this.options.random,
      retryAfterMs,
    )
    this.options.sleep(delayMs, this.stopSleeping.signal).then(
      () => {
        if (!this.closed && this.failure === undefined) this.connect()
      },
      (thrown: unknown) => this.fail(toError(thrown)),
    )
  }

  /** Reads a refused upgrade's error body: 4xx (but 408/429) is final, anything else is retried. */
  private async readRefusal(
    response: IncomingMessage,
    endpoint: string,
  ): Promise<{ fatal: boolean; error: SocketCloudClientError; retryAfterMs: number | undefined }> {
    const status = response.statusCode ?? 0
    const chunks: Buffer[] = []
    let total = 0
    for await (const chunk of response as AsyncIterable<Buffer>) {
      total += chunk.length
      if (total > UPGRADE_ERROR_BYTES_MAX) break
      chunks.push(chunk)
    }
    let body
    try {
      body = decodeErrorBody(JSON.parse(Buffer.concat(chunks).toString('utf8')))
    } catch {
      body = undefined
    }
    const retryAfterHeader = response.headers['retry-after']
    return {
      fatal: status >= 400 && status < 500 && status !== 408 && status !== 429,
      error: errorFromAnswer(status, body, {
        outcome: 'not_applied',
        endpoint,
        attempts: this.failuresInRow + 1,
      }),
      retryAfterMs: parseRetryAfterMs(
        Array.isArray(retryAfterHeader) ? retryAfterHeader[0] : retryAfterHeader,
      ),
    }
  }

  private badFrame(endpoint: string, why: string, cause?: unknown): SocketCloudClientError {
    return new SocketCloudClientError('bad_response', `malformed watch frame: ${why}`, {
      outcome: 'not_applied',
      endpoint,
      cause,
    })
  }
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8')
  return data.toString('utf8')
}
