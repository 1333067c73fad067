// Test-only HandshakeChannels: an in-memory pair and a length-prefixed TCP socket. Not exported
// from the package; the real stream transports live in @socketcloud/transport.
import { createConnection, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { TransportError } from '@socketcloud/core'
import type { ConnectionDirection, HandshakeChannel } from '@socketcloud/core'

const FRAME_HEADER_BYTES = 4
const FRAME_BYTES_MAX = 16 * 1024 * 1024 + 1024

/** A queue of frames with waiting receivers; closing rejects them. */
class FrameQueue {
  private readonly frames: Uint8Array[] = []
  private readonly waiters: { resolve: (frame: Uint8Array) => void; reject: (error: Error) => void }[] = []
  private closedWith: TransportError | undefined

  push(frame: Uint8Array): void {
    const waiter = this.waiters.shift()
    if (waiter) waiter.resolve(frame)
    else this.frames.push(frame)
  }

  close(error: TransportError): void {
    this.closedWith ??= error
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.closedWith)
  }

  next(signal?: AbortSignal): Promise<Uint8Array> {
    const frame = this.frames.shift()
    if (frame) return Promise.resolve(frame)
    if (this.closedWith) return Promise.reject(this.closedWith)
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject }
      this.waiters.push(waiter)
      signal?.addEventListener(
        'abort',
        () => {
          const index = this.waiters.indexOf(waiter)
          if (index >= 0) this.waiters.splice(index, 1)
          reject(new TransportError('HANDSHAKE_TIMEOUT', 'receive aborted'))
        },
        { once: true },
      )
    })
  }
}

export interface MemoryChannel extends HandshakeChannel {
  /** Frames this side sent, in order (for tampering tests). */
  readonly sent: Uint8Array[]
  close(): void
  /** Delivers a frame to this side as if the peer had sent it. */
  inject(frame: Uint8Array): void
}

/**
 * Two connected in-memory channels. `intercept` sees every frame in flight and returns the frames
 * to deliver instead (drop, duplicate, tamper, reorder).
 */
export function memoryChannelPair(
  intercept: (frame: Uint8Array, from: ConnectionDirection) => Uint8Array[] = (frame) => [frame],
): [MemoryChannel, MemoryChannel] {
  const queues = { outbound: new FrameQueue(), inbound: new FrameQueue() }
  const make = (direction: ConnectionDirection): MemoryChannel => {
    const own = queues[direction]
    const peer = queues[direction === 'outbound' ? 'inbound' : 'outbound']
    const sent: Uint8Array[] = []
    return {
      direction,
      remoteAddress: `memory:${direction === 'outbound' ? 'responder' : 'initiator'}`,
      sent,
      send(frame) {
        sent.push(frame)
        for (const delivered of intercept(Uint8Array.from(frame), direction)) peer.push(delivered)
      },
      receive: (signal) => own.next(signal),
      inject: (frame) => own.push(frame),
      close() {
        const error = new TransportError('CONNECTION_CLOSED', 'memory channel closed')
        own.close(error)
        peer.close(error)
      },
    }
  }
  return [make('outbound'), make('inbound')]
}

/** A TCP socket framed with a 4-byte big-endian length: a HandshakeChannel, then a message pipe. */
export class FramedSocket implements HandshakeChannel {
  private readonly queue = new FrameQueue()
  private pending: Buffer = Buffer.alloc(0)

  constructor(
    readonly socket: Socket,
    readonly direction: ConnectionDirection,
  ) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('close', () => this.queue.close(new TransportError('CONNECTION_CLOSED', 'socket closed')))
    socket.on('error', (error) =>
      this.queue.close(new TransportError('IO_ERROR', error.message, {}, { cause: error })),
    )
  }

  get remoteAddress(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? 0}`
  }

  send(frame: Uint8Array): boolean {
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES)
    header.writeUInt32BE(frame.length, 0)
    this.socket.write(header)
    return this.socket.write(frame)
  }

  receive(signal?: AbortSignal): Promise<Uint8Array> {
    return this.queue.next(signal)
  }

  close(): void {
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    while (this.pending.length >= FRAME_HEADER_BYTES) {
      const length = this.pending.readUInt32BE(0)
      if (length > FRAME_BYTES_MAX) {
        this.queue.close(new TransportError('FRAME_TOO_LARGE', `frame of ${length} bytes`))
        this.socket.destroy()
        return
      }
      if (this.pending.length < FRAME_HEADER_BYTES + length) return
      this.queue.push(new Uint8Array(this.pending.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length)))
      this.pending = this.pending.subarray(FRAME_HEADER_BYTES + length)
    }
  }
}

/** A TCP server on 127.0.0.1 with an OS-chosen port, and a dial function, both yielding FramedSockets. */
export async function framedTcpPair(): Promise<{
  server: Server
  port: number
  accepted: Promise<FramedSocket>
  dial: () => Promise<FramedSocket>
  close: () => Promise<void>
}> {
  let resolveAccepted!: (socket: FramedSocket) => void
  const accepted = new Promise<FramedSocket>((resolve) => (resolveAccepted = resolve))
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    resolveAccepted(new FramedSocket(socket, 'inbound'))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    server,
    port,
    accepted,
    dial: () =>
      new Promise((resolve, reject) => {
        const socket = createConnection({ host: '127.0.0.1', port }, () =>
          resolve(new FramedSocket(socket, 'outbound')),
        )
        sockets.add(socket)
        socket.once('error', reject)
      }),
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
