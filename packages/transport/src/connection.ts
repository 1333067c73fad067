import {
  SEND_OK,
  TransportError,
  assert,
  toError,
  type ConnectionDirection,
  type HandshakeChannel,
  type NodeId,
  type SecureSession,
  type SendResult,
  type AddressProtocol,
} from '@socketcloud/core'
import { SendQueue } from './core/send-queue'
import { detach } from './detach'
import type { Link, LinkHandlers } from './link'
import { sealOverheadBytesMax } from './link'
import type { TransportOptions } from './options'

export type ConnectionState = 'handshaking' | 'open' | 'closing' | 'closed'

/** What a Connection reports to the transport that owns it. */
export interface ConnectionOwner {
  readonly options: TransportOptions
  onMessage(connection: Connection, bytes: Uint8Array): void
  onDrain(connection: Connection): void
  onClosed(connection: Connection, error: TransportError | undefined): void
  onBackpressure(connection: Connection): void
  onWritten(connection: Connection, messages: number, bytes: number): void
  onKeepalive(connection: Connection): void
}

interface PendingReceive {
  resolve(frame: Uint8Array): void
  reject(error: TransportError): void
}

let nextConnectionSerial = 0

/**
 * One link plus everything the transport keeps per connection: the handshake inbox, the secure
 * session, the bounded send queue, keepalive/idle bookkeeping and the graceful-close sequence.
 *
 * Life cycle: `handshaking` (frames go to the inbox for the upgrader) → `open` after `activate`
 * (frames are opened with the session and delivered) → `closing` (no new sends; the queue drains,
 * then the link ends) → `closed`. Sends are sealed in call order, which is the order a session's
 * nonces require, and written in that same order.
 */
export class Connection implements LinkHandlers {
  readonly serial = ++nextConnectionSerial
  readonly protocol: AddressProtocol
  readonly direction: ConnectionDirection
  readonly address: string
  private readonly owner: ConnectionOwner
  private readonly queue: SendQueue
  private link: Link | undefined
  private session: SecureSession | undefined
  private stateValue: ConnectionState = 'handshaking'
  private inbox: Uint8Array[] = []
  private inboxBytes = 0
  private pendingReceive: PendingReceive | undefined
  private flushScheduled = false
  private closeWaiters: (() => void)[] = []
  private closeError: TransportError | undefined
  /** Set by I/O, read and cleared by the owner's sweep: cheaper than reading the clock per message. */
  receivedSinceSweep = false
  sentSinceSweep = false
  lastReceivedMs = 0
  lastSentMs = 0
  /** Inbound traffic not yet reported to metrics; the owner's sweep reports and resets it. */
  unreportedBytesIn = 0
  unreportedMessagesIn = 0
  /** Set when this side decided to close it (hang-up, duplicate, shutdown): no reconnect follows. */
  retired = false

  constructor(
    owner: ConnectionOwner,
    protocol: AddressProtocol,
    direction: ConnectionDirection,
    address: string,
  ) {
    this.owner = owner
    this.protocol = protocol
    this.direction = direction
    this.address = address
    this.queue = new SendQueue({
      bytesMax: owner.options.sendQueueBytesMax,
      messagesMax: owner.options.sendQueueMessagesMax,
    })
  }

  get state(): ConnectionState {
    return this.stateValue
  }

  get remotePeer(): NodeId | undefined {
    return this.session?.remotePeer
  }

  get queuedBytes(): number {
    return this.queue.bytes
  }

  get queuedMessages(): number {
    return this.queue.length
  }

  attach(link: Link, nowMs: number): void {
    assert(this.link === undefined, 'a connection is attached to one link')
    this.link = link
    this.lastReceivedMs = nowMs
    this.lastSentMs = nowMs
  }

  /** The framed channel the upgrader runs its handshake over. */
  handshakeChannel(): HandshakeChannel {
    const link = this.link
    assert(link !== undefined, 'handshake needs an attached link')
    return {
      direction: this.direction,
      remoteAddress: this.address,
      send: (frame) => {
        if (this.stateValue !== 'handshaking') return
        if (
          frame.length >
          this.owner.options.frameBytesMax + sealOverheadBytesMax(this.owner.options.frameBytesMax)
        ) {
          this.fail(
            new TransportError('FRAME_TOO_LARGE', 'handshake frame exceeds the frame limit', {
              bytes: frame.length,
              address: this.address,
            }),
          )
          return
        }
        link.writeFrames([frame], frame.length)
        this.sentSinceSweep = true
      },
      receive: (signal) => this.receiveHandshakeFrame(signal),
    }
  }

  /**
   * Switches to the open state with `session`. Frames that arrived during the handshake stay held
   * until `releaseEarlyFrames`, so the owner can register the peer before its first message.
   */
  activate(session: SecureSession): void {
    assert(this.stateValue === 'handshaking', 'only a handshaking connection can be activated')
    this.session = session
    this.stateValue = 'open'
  }

  /** Delivers frames that arrived during the handshake, then lets reading continue. */
  releaseEarlyFrames(): void {
    const early = this.inbox
    this.inbox = []
    this.inboxBytes = 0
    for (const frame of early) {
      if (this.stateValue !== 'open' && this.stateValue !== 'closing') return
      this.deliver(frame)
    }
    this.link?.resume()
  }

  send(bytes: Uint8Array): SendResult {
    if (this.stateValue !== 'open') {
      return {
        ok: false,
        error: new TransportError('CONNECTION_CLOSED', 'connection is closing', { address: this.address }),
      }
    }
    const options = this.owner.options
    if (bytes.length > options.frameBytesMax) {
      return {
        ok: false,
        error: new TransportError(
          'FRAME_TOO_LARGE',
          `message of ${bytes.length} bytes exceeds frameBytesMax`,
          {
            bytes: bytes.length,
            frameBytesMax: options.frameBytesMax,
          },
        ),
      }
    }
    if (!this.queue.fits(bytes.length)) {
      this.queue.markRefused()
      this.owner.onBackpressure(this)
      return {
        ok: false,
        error: new TransportError('BACKPRESSURE', 'send queue is full', {
          queuedBytes: this.queue.bytes,
          queuedMessages: this.queue.length,
          sendQueueBytesMax: options.sendQueueBytesMax,
          sendQueueMessagesMax: options.sendQueueMessagesMax,
        }),
      }
    }
    const session = this.session
    assert(session !== undefined, 'an open connection has a session')
    let sealed: Uint8Array
    try {
      sealed = session.seal(bytes)
    } catch (thrown) {
      const error = new TransportError(
        'CONNECTION_CLOSED',
        'the secure session refused to seal',
        {
          address: this.address,
        },
        { cause: toError(thrown) },
      )
      this.fail(error)
      return { ok: false, error }
    }
    // A sealed frame has consumed a nonce, so it must go out: the queue may exceed its byte limit by
    // the seal overhead rather than drop it. The overhead itself is bounded.
    assert(
      sealed.length <= bytes.length + sealOverheadBytesMax(bytes.length),
      'sealing adds a bounded overhead',
    )
    this.queue.push(sealed)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(this.flushTask)
    }
    return SEND_OK
  }

  /** Sends a keepalive if the link is open; the owner's sweep decides when. */
  sendKeepalive(): void {
    if (this.stateValue === 'closed' || !this.link) return
    this.link.writeKeepalive()
  }

  /**
   * Closes gracefully: refuses new sends, writes what is queued, then ends the link. Resolves when
   * the link has closed; the caller bounds the wait (and then calls `destroy`).
   */
  close(): Promise<void> {
    if (this.stateValue === 'closed') return Promise.resolve()
    const done = new Promise<void>((resolve) => this.closeWaiters.push(resolve))
    if (this.stateValue !== 'closing') {
      this.stateValue = 'closing'
      this.rejectPendingReceive(new TransportError('CONNECTION_CLOSED', 'connection closed during handshake'))
      this.flush()
    }
    return done
  }

  /** Closes immediately; `error` is reported as the reason. */
  destroy(error?: TransportError): void {
    if (this.stateValue === 'closed') return
    if (!this.link) {
      this.closed(error)
      return
    }
    this.link.destroy(error)
  }

  /** Closes immediately because of a protocol or input failure. */
  fail(error: TransportError): void {
    this.closeError ??= error
    this.destroy(error)
  }

  // LinkHandlers -------------------------------------------------------------------------------

  frame(body: Uint8Array): void {
    this.receivedSinceSweep = true
    this.unreportedBytesIn += body.length
    this.unreportedMessagesIn++
    if ((this.stateValue === 'open' || this.stateValue === 'closing') && this.inbox.length === 0) {
      if (this.session) this.deliver(body)
      return
    }
    if (this.stateValue === 'open' || this.stateValue === 'closing') {
      // Early frames are still held: keep order by queueing behind them.
      this.inbox.push(body.slice())
      return
    }
    if (this.stateValue !== 'handshaking') return
    if (this.pendingReceive) {
      const pending = this.pendingReceive
      this.pendingReceive = undefined
      pending.resolve(body.slice())
      return
    }
    this.inboxBytes += body.length
    if (this.inboxBytes > this.owner.options.handshakeBufferBytesMax) {
      this.fail(
        new TransportError(
          'HANDSHAKE_FAILED',
          'peer sent more than handshakeBufferBytesMax during the handshake',
          {
            bytes: this.inboxBytes,
            handshakeBufferBytesMax: this.owner.options.handshakeBufferBytesMax,
            address: this.address,
          },
        ),
      )
      return
    }
    this.inbox.push(body.slice())
    // Reading stops until the upgrader or activate() takes the inbox, which bounds what a fast peer
    // can make us hold before we know who it is.
    this.link?.pause()
  }

  keepalive(): void {
    this.receivedSinceSweep = true
    this.owner.onKeepalive(this)
  }

  ended(): void {
    detach(this.close())
  }

  writable(): void {
    this.flush()
  }

  closed(error: TransportError | undefined): void {
    if (this.stateValue === 'closed') return
    this.stateValue = 'closed'
    const reported = this.closeError ?? error
    this.queue.clear()
    this.rejectPendingReceive(
      reported ?? new TransportError('CONNECTION_CLOSED', 'connection closed', { address: this.address }),
    )
    this.owner.onClosed(this, reported)
    const waiters = this.closeWaiters
    this.closeWaiters = []
    for (const resolve of waiters) resolve()
  }

  // internals ----------------------------------------------------------------------------------

  private readonly flushTask = (): void => {
    this.flushScheduled = false
    this.flush()
  }

  private flush(): void {
    const link = this.link
    if (!link || this.stateValue === 'closed' || this.stateValue === 'handshaking') return
    if (this.queue.length > 0) {
      const budget = this.owner.options.socketBufferBytesMax - link.bufferedBytes()
      if (budget > 0) {
        const before = this.queue.bytes
        const frames = this.queue.take(budget)
        const bytes = before - this.queue.bytes
        link.writeFrames(frames, bytes)
        this.sentSinceSweep = true
        this.owner.onWritten(this, frames.length, bytes)
      }
      // Anything left waits for the link's `writable`, which it reports once its buffer drains.
    }
    if (this.queue.takeDrainSignal()) this.owner.onDrain(this)
    if (this.stateValue === 'closing' && this.queue.length === 0) link.end()
  }

  private deliver(frame: Uint8Array): void {
    const session = this.session
    assert(session !== undefined, 'delivering needs a session')
    let message: Uint8Array
    try {
      message = session.open(frame)
    } catch (thrown) {
      this.fail(
        new TransportError(
          'BAD_FRAME',
          'the secure session rejected a frame',
          {
            address: this.address,
            reason: 'open_failed',
          },
          { cause: toError(thrown) },
        ),
      )
      return
    }
    this.owner.onMessage(this, message)
  }

  private receiveHandshakeFrame(signal: AbortSignal): Promise<Uint8Array> {
    if (this.stateValue !== 'handshaking') {
      return Promise.reject(new TransportError('CONNECTION_CLOSED', 'connection is not handshaking'))
    }
    const next = this.inbox.shift()
    if (next) {
      this.inboxBytes -= next.length
      if (this.inbox.length === 0) this.link?.resume()
      return Promise.resolve(next)
    }
    assert(this.pendingReceive === undefined, 'the upgrader receives one frame at a time')
    if (signal.aborted) return Promise.reject(abortError(signal))
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = (): void => {
        this.pendingReceive = undefined
        reject(abortError(signal))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.pendingReceive = {
        resolve: (frame) => {
          signal.removeEventListener('abort', onAbort)
          resolve(frame)
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort)
          reject(error)
        },
      }
    })
  }

  private rejectPendingReceive(error: TransportError): void {
    const pending = this.pendingReceive
    this.pendingReceive = undefined
    pending?.reject(error)
  }
}

function abortError(signal: AbortSignal): TransportError {
  const reason: unknown = signal.reason
  if (reason instanceof TransportError) return reason
  return new TransportError('HANDSHAKE_TIMEOUT', 'handshake aborted', {}, { cause: toError(reason) })
}
