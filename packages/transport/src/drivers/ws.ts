import { randomFillSync } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import uws from 'uWebSockets.js'
import WebSocket from 'ws'
import { TransportError, formatAddress, type ConnectionDirection, type PeerAddress } from '@socketcloud/core'
import type { AcceptLink, Link, LinkDriver, LinkHandlers, LinkLimits, ListenerHandle } from '../link'
import { clientFrameBytes, writeClientFrame } from '../core/ws-client-frames'
import { ioError, linkClosedError } from './errors'

/** Frames are written into buffers of up to this size, one flush's worth at most (larger frames alone). */
const COALESCE_BUFFER_BYTES = 64 * 1024

/** RFC 6455 close codes we send or interpret. */
const CLOSE_NORMAL = 1000
const CLOSE_UNSUPPORTED_DATA = 1003
const CLOSE_MESSAGE_TOO_BIG = 1009
const CLOSE_INTERNAL_ERROR = 1011
const CLOSE_TRY_AGAIN_LATER = 1013

function textFrameError(address: string): TransportError {
  return new TransportError(
    'BAD_FRAME',
    `text WebSocket frame from ${address}; only binary frames are accepted`,
    {
      address,
      reason: 'TEXT_FRAME',
    },
  )
}

function closeCodeError(code: number, address: string): TransportError | undefined {
  if (code === CLOSE_NORMAL) return undefined
  if (code === CLOSE_MESSAGE_TOO_BIG) {
    return new TransportError('BAD_FRAME', `WebSocket message from ${address} exceeded the frame limit`, {
      address,
      reason: 'OVERSIZED',
      closeCode: code,
    })
  }
  return new TransportError('CONNECTION_CLOSED', `WebSocket to ${address} closed with code ${code}`, {
    address,
    closeCode: code,
  })
}

interface UwsUserData {
  link?: UwsLink
}

/**
 * The server side of a WebSocket connection, on uWebSockets.js. Each frame is one binary WebSocket
 * message; keepalives are WebSocket pings. uWS hands message buffers that die with the callback, so
 * handlers must copy what they keep (the Connection does).
 */
class UwsLink implements Link {
  readonly protocol = 'ws' as const
  readonly direction: ConnectionDirection = 'inbound'
  readonly remoteAddress: string
  private readonly socket: uws.WebSocket<UwsUserData>
  private handlers: LinkHandlers | undefined
  private closeError: TransportError | undefined
  private open = true

  constructor(socket: uws.WebSocket<UwsUserData>) {
    this.socket = socket
    const host = Buffer.from(socket.getRemoteAddressAsText()).toString()
    this.remoteAddress = formatAddress({ protocol: 'ws', host: host || 'unknown', port: 0, path: '/' })
  }

  attach(handlers: LinkHandlers): void {
    this.handlers = handlers
  }

  onMessage(message: ArrayBuffer, isBinary: boolean): void {
    if (!isBinary) {
      this.fail(textFrameError(this.remoteAddress), CLOSE_UNSUPPORTED_DATA)
      return
    }
    this.handlers?.frame(new Uint8Array(message))
  }

  onKeepalive(): void {
    this.handlers?.keepalive()
  }

  onDrain(): void {
    this.handlers?.writable()
  }

  onClose(code: number): void {
    this.open = false
    const handlers = this.handlers
    this.handlers = undefined
    handlers?.closed(this.closeError ?? closeCodeError(code, this.remoteAddress))
  }

  writeFrames(frames: readonly Uint8Array[]): void {
    if (!this.open) return
    this.socket.cork(() => {
      for (const frame of frames) {
        if (this.socket.send(frame, true, false) === 2) {
          // maxBackpressure is sized above what the Connection ever buffers, so a drop is a bug.
          this.fail(
            new TransportError('IO_ERROR', 'uWebSockets dropped a frame', { address: this.remoteAddress }),
            CLOSE_INTERNAL_ERROR,
          )
          return
        }
      }
    })
  }

  writeKeepalive(): void {
    if (this.open) this.socket.ping(new Uint8Array(0))
  }

  bufferedBytes(): number {
    return this.open ? this.socket.getBufferedAmount() : 0
  }

  // uWebSockets.js cannot pause one socket's reads; the handshake buffer limit bounds what it delivers.
  pause(): void {}

  resume(): void {}

  end(): void {
    if (this.open) this.socket.end(CLOSE_NORMAL)
  }

  destroy(error?: TransportError): void {
    this.closeError ??= error
    if (this.open) this.socket.close()
  }

  fail(error: TransportError, closeCode: number): void {
    this.closeError ??= error
    if (this.open) this.socket.end(closeCode, error.code)
  }
}

/** The upgraded byte stream under a `ws` client (a net or TLS socket). */
interface ClientStream {
  cork(): void
  uncork(): void
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean
}

/**
 * Masking keys for client frames, drawn from the OS CSPRNG in blocks (RFC 6455 section 5.3 requires
 * unpredictable keys, so a proxy cannot be fed chosen bytes).
 */
class MaskKeys {
  private readonly pool = new Uint32Array(2048)
  private next = this.pool.length

  take(): number {
    if (this.next === this.pool.length) {
      randomFillSync(this.pool)
      this.next = 0
    }
    return this.pool[this.next++]!
  }
}

const maskKeys = new MaskKeys()

/**
 * The client side of a WebSocket connection, on the `ws` package. `ws` does the upgrade, reads and
 * control frames (ping, pong, close); data frames are written here, straight to the upgraded
 * socket, because `ws` frames and writes every message on its own (one allocation and one syscall
 * per message). A flush of frames becomes a few coalesced buffers in one corked write. `ws` writes
 * synchronously to the same socket (compression is off, so its sender never queues), which keeps
 * our frames and its control frames in call order; after its close frame nothing more is written.
 */
class WsClientLink implements Link {
  readonly protocol: 'ws' | 'wss'
  readonly direction: ConnectionDirection = 'outbound'
  readonly remoteAddress: string
  private readonly socket: WebSocket
  private readonly stream: ClientStream
  private readonly limits: LinkLimits
  private handlers: LinkHandlers | undefined
  private closeError: TransportError | undefined

  constructor(socket: WebSocket, stream: ClientStream, address: PeerAddress, limits: LinkLimits) {
    this.socket = socket
    this.stream = stream
    this.protocol = address.protocol === 'wss' ? 'wss' : 'ws'
    this.remoteAddress = address.url
    this.limits = limits
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        this.closeError ??= textFrameError(this.remoteAddress)
        socket.close(CLOSE_UNSUPPORTED_DATA, 'BAD_FRAME')
        return
      }
      this.handlers?.frame(data)
    })
    socket.on('ping', () => this.handlers?.keepalive())
    socket.on('pong', () => this.handlers?.keepalive())
    socket.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.closeError ??= new TransportError(
          'BAD_FRAME',
          `WebSocket message from ${this.remoteAddress} exceeded the frame limit`,
          {
            address: this.remoteAddress,
            reason: 'OVERSIZED',
          },
        )
      } else {
        this.closeError ??= ioError(error, this.remoteAddress)
      }
    })
    socket.on('close', (code: number) => {
      const handlers = this.handlers
      this.handlers = undefined
      handlers?.closed(this.closeError ?? closeCodeError(code, this.remoteAddress))
    })
  }

  attach(handlers: LinkHandlers): void {
    this.handlers = handlers
  }

  writeFrames(frames: readonly Uint8Array[]): void {
    if (this.socket.readyState !== WebSocket.OPEN) return
    let remaining = 0
    for (const frame of frames) remaining += clientFrameBytes(frame.length)
    const stream = this.stream
    stream.cork()
    try {
      let batch: Uint8Array | undefined
      let filled = 0
      for (const frame of frames) {
        const wire = clientFrameBytes(frame.length)
        if (batch && filled + wire > batch.length) {
          stream.write(batch.subarray(0, filled))
          batch = undefined
        }
        if (!batch) {
          batch = Buffer.allocUnsafe(Math.max(wire, Math.min(COALESCE_BUFFER_BYTES, remaining)))
          filled = 0
        }
        filled = writeClientFrame(batch, filled, frame, maskKeys.take())
        remaining -= wire
      }
      if (batch) stream.write(batch.subarray(0, filled), this.afterWrite)
    } finally {
      stream.uncork()
    }
  }

  writeKeepalive(): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.ping()
  }

  bufferedBytes(): number {
    return this.socket.bufferedAmount
  }

  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  end(): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(CLOSE_NORMAL)
  }

  destroy(error?: TransportError): void {
    this.closeError ??= error
    this.socket.terminate()
  }

  private readonly afterWrite = (error?: Error | null): void => {
    if (error) return // the socket's 'error'/'close' events report it
    if (this.socket.bufferedAmount < this.limits.socketBufferBytesMax) this.handlers?.writable()
  }
}

export class WsDriver implements LinkDriver {
  readonly protocols = ['ws', 'wss'] as const
  private readonly limits: LinkLimits

  constructor(limits: LinkLimits) {
    this.limits = limits
  }

  listen(address: PeerAddress, accept: AcceptLink): Promise<ListenerHandle> {
    if (address.protocol !== 'ws') {
      return Promise.reject(
        new TransportError(
          'INVALID_ADDRESS',
          'listening supports ws:// only; terminate TLS in front of the node',
          {
            address: address.url,
          },
        ),
      )
    }
    const limits = this.limits
    const app = uws.App()
    app.ws<UwsUserData>(address.path === '/' ? '/*' : address.path, {
      maxPayloadLength: limits.wireFrameBytesMax,
      // The Connection never buffers more than socketBufferBytesMax plus one frame in the socket.
      maxBackpressure: limits.socketBufferBytesMax + limits.wireFrameBytesMax + 64 * 1024,
      closeOnBackpressureLimit: 0,
      idleTimeout: 0,
      sendPingsAutomatically: false,
      compression: uws.DISABLED,
      open: (socket) => {
        const link = new UwsLink(socket)
        const handlers = accept(link)
        if (!handlers) {
          socket.end(CLOSE_TRY_AGAIN_LATER, 'CONNECTIONS_EXHAUSTED')
          return
        }
        socket.getUserData().link = link
        link.attach(handlers)
      },
      message: (socket, message, isBinary) => socket.getUserData().link?.onMessage(message, isBinary),
      drain: (socket) => socket.getUserData().link?.onDrain(),
      ping: (socket) => socket.getUserData().link?.onKeepalive(),
      pong: (socket) => socket.getUserData().link?.onKeepalive(),
      close: (socket, code) => {
        socket.getUserData().link?.onClose(code)
      },
    })
    return this.bindPort(address).then(
      (port) =>
        new Promise<ListenerHandle>((resolve, reject) => {
          app.listen(address.host, port, (listenSocket) => {
            if (!listenSocket) {
              reject(
                new TransportError('IO_ERROR', `cannot listen on ${address.url} (port in use?)`, {
                  address: address.url,
                  port,
                }),
              )
              return
            }
            let closed = false
            resolve({
              address: formatAddress({ ...address, port }),
              close: () => {
                if (!closed) {
                  closed = true
                  uws.us_listen_socket_close(listenSocket)
                }
                return Promise.resolve()
              },
            })
          })
        }),
    )
  }

  /**
   * uSockets sets SO_REUSEPORT only when listening on an explicit port, and never SO_REUSEADDR. A
   * listener bound to port 0 therefore leaves connections it closed in TIME_WAIT that block binding
   * the same port again for a minute, so a restarted node could not take its address back. Asking
   * the OS for a free port first and then binding it explicitly gives every listener the same
   * restart behaviour.
   */
  private bindPort(address: PeerAddress): Promise<number> {
    if (address.port !== 0) return Promise.resolve(address.port)
    return new Promise((resolve, reject) => {
      uws.App().listen(address.host, 0, (probe) => {
        if (!probe) {
          reject(new TransportError('IO_ERROR', `cannot listen on ${address.url}`, { address: address.url }))
          return
        }
        const port = uws.us_socket_local_port(probe as unknown as uws.us_socket)
        uws.us_listen_socket_close(probe)
        resolve(port)
      })
    })
  }

  dial(address: PeerAddress, handlers: LinkHandlers, signal: AbortSignal): Promise<Link> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(linkClosedError(address.url, signal.reason))
        return
      }
      const socket = new WebSocket(address.url, {
        perMessageDeflate: false,
        maxPayload: this.limits.wireFrameBytesMax,
        skipUTF8Validation: true,
      })
      socket.binaryType = 'nodebuffer'
      // The upgrade response rides on the socket `ws` keeps reading from; data frames are written to it.
      let stream: ClientStream | undefined
      socket.once('upgrade', (response: IncomingMessage) => {
        stream = response.socket
      })
      const onAbort = (): void => {
        socket.terminate()
        reject(linkClosedError(address.url, signal.reason))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      const onError = (error: Error): void => {
        signal.removeEventListener('abort', onAbort)
        reject(ioError(error, address.url))
      }
      socket.once('error', onError)
      socket.once('unexpected-response', (_request, response) => {
        signal.removeEventListener('abort', onAbort)
        socket.off('error', onError)
        socket.terminate()
        reject(
          new TransportError('CONNECTION_REFUSED', `${address.url} refused the WebSocket upgrade`, {
            address: address.url,
            status: response.statusCode,
          }),
        )
      })
      socket.once('open', () => {
        signal.removeEventListener('abort', onAbort)
        socket.off('error', onError)
        if (!stream) {
          socket.terminate()
          reject(
            new TransportError('IO_ERROR', `${address.url}: the upgraded socket was not exposed`, {
              address: address.url,
            }),
          )
          return
        }
        const link = new WsClientLink(socket, stream, address, this.limits)
        link.attach(handlers)
        resolve(link)
      })
    })
  }
}
