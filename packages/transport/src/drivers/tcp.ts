import net from 'node:net'
import {
  DecodeError,
  TransportError,
  formatAddress,
  toError,
  type ConnectionDirection,
  type Logger,
  type PeerAddress,
} from '@socketcloud/core'
import { CONTROL_KEEPALIVE, FRAME_HEADER_BYTES, FrameDecoder, writeFrameHeader } from '../core/frame-decoder'
import type { AcceptLink, Link, LinkDriver, LinkHandlers, LinkLimits, ListenerHandle } from '../link'
import { ioError, linkClosedError } from './errors'

/** Frames below this are copied into one coalesced buffer per flush; larger ones are written as they are. */
const COALESCE_FRAME_BYTES_MAX = 16 * 1024
const COALESCE_BUFFER_BYTES = 64 * 1024
const KEEPALIVE_FRAME = new Uint8Array(FRAME_HEADER_BYTES)
writeFrameHeader(KEEPALIVE_FRAME, 0, CONTROL_KEEPALIVE)

/**
 * A TCP connection carrying length-prefixed frames (see core/frame-decoder). Writes of one flush are
 * coalesced into as few `write` calls as possible inside a cork/uncork pair, so a burst of small
 * messages costs one syscall, and large bodies go out without a copy.
 */
class TcpLink implements Link {
  readonly protocol = 'tcp' as const
  readonly direction: ConnectionDirection
  readonly remoteAddress: string
  private readonly socket: net.Socket
  private readonly decoder: FrameDecoder
  private handlers: LinkHandlers | undefined
  private closeError: TransportError | undefined
  private paused = false

  constructor(socket: net.Socket, direction: ConnectionDirection, limits: LinkLimits) {
    this.socket = socket
    this.direction = direction
    this.remoteAddress = formatAddress({
      protocol: 'tcp',
      host: socket.remoteAddress ?? 'unknown',
      port: socket.remotePort ?? 0,
      path: '/',
    })
    this.decoder = new FrameDecoder(limits.wireFrameBytesMax, {
      frame: (body) => this.handlers?.frame(body),
      control: () => this.handlers?.keepalive(),
    })
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('end', () => this.onEnd())
    socket.on('drain', () => this.handlers?.writable())
    socket.on('error', (error) => {
      this.closeError ??= ioError(error, this.remoteAddress)
    })
    socket.on('close', () => {
      const handlers = this.handlers
      this.handlers = undefined
      handlers?.closed(this.closeError)
    })
  }

  attach(handlers: LinkHandlers): void {
    this.handlers = handlers
  }

  writeFrames(frames: readonly Uint8Array[], bytes: number): void {
    const socket = this.socket
    if (socket.destroyed) return
    if (frames.length === 1) {
      const frame = frames[0]!
      if (frame.length < COALESCE_FRAME_BYTES_MAX) {
        const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + frame.length)
        writeFrameHeader(out, 0, frame.length)
        out.set(frame, FRAME_HEADER_BYTES)
        socket.write(out)
        return
      }
    }
    socket.cork()
    let batch = Buffer.allocUnsafe(
      Math.min(COALESCE_BUFFER_BYTES, bytes + FRAME_HEADER_BYTES * frames.length),
    )
    let filled = 0
    for (const frame of frames) {
      if (frame.length >= COALESCE_FRAME_BYTES_MAX) {
        if (filled > 0) {
          socket.write(batch.subarray(0, filled))
          batch = Buffer.allocUnsafe(COALESCE_BUFFER_BYTES)
          filled = 0
        }
        const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES)
        writeFrameHeader(header, 0, frame.length)
        socket.write(header)
        socket.write(frame)
        continue
      }
      if (filled + FRAME_HEADER_BYTES + frame.length > batch.length) {
        socket.write(batch.subarray(0, filled))
        batch = Buffer.allocUnsafe(COALESCE_BUFFER_BYTES)
        filled = 0
      }
      writeFrameHeader(batch, filled, frame.length)
      batch.set(frame, filled + FRAME_HEADER_BYTES)
      filled += FRAME_HEADER_BYTES + frame.length
    }
    if (filled > 0) socket.write(batch.subarray(0, filled))
    socket.uncork()
  }

  writeKeepalive(): void {
    if (!this.socket.destroyed) this.socket.write(KEEPALIVE_FRAME)
  }

  bufferedBytes(): number {
    return this.socket.writableLength
  }

  pause(): void {
    if (this.paused) return
    this.paused = true
    this.socket.pause()
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.socket.resume()
  }

  end(): void {
    if (!this.socket.destroyed) this.socket.end()
  }

  destroy(error?: TransportError): void {
    this.closeError ??= error
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    if (this.decoder.failed) return
    try {
      this.decoder.push(chunk)
    } catch (thrown) {
      this.failFraming(thrown)
    }
  }

  private onEnd(): void {
    try {
      this.decoder.finish()
    } catch (thrown) {
      this.failFraming(thrown)
      return
    }
    // The peer finished sending; our side ends once what the connection queued is written.
    if (this.handlers) this.handlers.ended()
    else this.socket.end()
  }

  private failFraming(thrown: unknown): void {
    const reason = thrown instanceof DecodeError ? thrown.code : 'MALFORMED'
    this.destroy(
      new TransportError(
        'BAD_FRAME',
        `bad frame from ${this.remoteAddress}: ${toError(thrown).message}`,
        { address: this.remoteAddress, reason },
        { cause: toError(thrown) },
      ),
    )
  }
}

export class TcpDriver implements LinkDriver {
  readonly protocols = ['tcp'] as const
  private readonly limits: LinkLimits

  private readonly logger: Logger

  constructor(limits: LinkLimits, logger: Logger) {
    this.limits = limits
    this.logger = logger
  }

  listen(address: PeerAddress, accept: AcceptLink): Promise<ListenerHandle> {
    const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
      const link = new TcpLink(socket, 'inbound', this.limits)
      const handlers = accept(link)
      if (!handlers) {
        socket.destroy()
        return
      }
      link.attach(handlers)
    })
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(ioError(error, address.url))
      }
      server.once('error', onError)
      server.listen({ host: address.host, port: address.port }, () => {
        server.off('error', onError)
        // After listening, errors are per-accept (EMFILE, ...): the server keeps running, so log them.
        server.on('error', (error) =>
          this.logger.warn({ address: address.url, error: error.message }, 'tcp accept error'),
        )
        const bound = server.address()
        const port = typeof bound === 'object' && bound ? bound.port : address.port
        resolve({
          address: formatAddress({ ...address, port }),
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done())
            }),
        })
      })
    })
  }

  dial(address: PeerAddress, handlers: LinkHandlers, signal: AbortSignal): Promise<Link> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(linkClosedError(address.url, signal.reason))
        return
      }
      const socket = net.connect({
        host: address.host,
        port: address.port,
        noDelay: true,
        allowHalfOpen: true,
      })
      const onAbort = (): void => {
        socket.destroy()
        reject(linkClosedError(address.url, signal.reason))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      const onError = (error: Error): void => {
        signal.removeEventListener('abort', onAbort)
        reject(ioError(error, address.url))
      }
      socket.once('error', onError)
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort)
        socket.off('error', onError)
        const link = new TcpLink(socket, 'outbound', this.limits)
        link.attach(handlers)
        resolve(link)
      })
    })
  }
}
