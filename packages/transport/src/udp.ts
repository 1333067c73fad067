import dgram from 'node:dgram'
import net from 'node:net'
import {
  DecodeError,
  Emitter,
  SEND_OK,
  TransportError,
  every,
  formatAddress,
  parseAddress,
  toError,
  type ConnectionDirection,
  type DialOptions,
  type NodeId,
  type PeerAddress,
  type SendResult,
  type TimerHandle,
  type Transport,
  type TransportEvents,
} from '@socketcloud/core'
import { planReconnect } from './reconnect'
import { DATAGRAM_HEADER_BYTES, decodeDatagram, encodeDatagram, type DatagramKind } from './core/datagram'
import { resolveComponents, type ResolvedComponents, type TransportComponents } from './components'
import { TransportMetrics } from './metrics'
import { resolveTransportOptions, type TransportInit, type TransportOptions } from './options'
import { ioError } from './drivers/errors'
import { sweepIntervalMs } from './sweep'

const EMPTY = new Uint8Array(0)

interface UdpPeer {
  readonly id: NodeId
  host: string
  port: number
  socket: dgram.Socket
  address: string
  receivedSinceSweep: boolean
  sentSinceSweep: boolean
  lastReceivedMs: number
  lastSentMs: number
}

interface PendingHello {
  resolve(peer: NodeId): void
}

interface UdpIntent {
  readonly id: NodeId
  readonly address: PeerAddress
  attempt: number
  timer: TimerHandle | undefined
}

/**
 * UDP transport: one message per datagram, each prefixed with a 36-byte header naming the sender
 * (see core/datagram). For request/response protocols such as the DHT.
 *
 * NOT AUTHENTICATED: the sender id in the header is a claim, not a proof, and no upgrader runs on
 * UDP. Anyone who can reach the port can send as any node. Protocols on UDP must sign what they rely
 * on. Delivery is best effort: datagrams may be lost, duplicated or reordered by the network.
 *
 * "Connected" peers are those heard from (or that answered a `dial` hello) within `idleTimeoutMs`;
 * keepalive pings keep the entry alive, and a dialed peer that goes silent is re-dialed with backoff.
 * Backpressure counts datagrams handed to the socket but not yet sent, across all peers.
 */
export class UdpTransport implements Transport {
  readonly localId: NodeId
  readonly events = new Emitter<TransportEvents>()
  readonly options: TransportOptions
  private readonly components: ResolvedComponents
  private readonly metrics: TransportMetrics
  private readonly sockets: { readonly socket: dgram.Socket; readonly address: string }[] = []
  private readonly ephemeral = new Map<'udp4' | 'udp6', Promise<dgram.Socket>>()
  private readonly peers = new Map<string, UdpPeer>()
  private readonly hellos = new Map<string, PendingHello[]>()
  private readonly intents = new Map<string, UdpIntent>()
  private readonly refused = new Set<string>()
  private readonly dataHeader: Uint8Array
  private inflightBytes = 0
  private inflightMessages = 0
  private inflightWaiters: (() => void)[] = []
  private sweep: TimerHandle | undefined
  private closed = false

  constructor(components: TransportComponents, init: TransportInit = {}) {
    this.components = resolveComponents(components, 'transport.udp')
    this.localId = components.localId
    this.options = resolveTransportOptions(init)
    this.metrics = new TransportMetrics(this.components.metrics)
    this.dataHeader = encodeDatagram('data', this.localId, EMPTY)
  }

  async listen(address: string): Promise<string> {
    this.assertOpen()
    const parsed = parseUdpAddress(address)
    const socket = dgram.createSocket({ type: familyOf(parsed.host) })
    await bind(socket, parsed)
    const bound = socket.address()
    const url = formatAddress({ ...parsed, port: bound.port })
    this.adoptSocket(socket)
    this.sockets.push({ socket, address: url })
    this.components.logger.info({ address: url }, 'listening')
    return url
  }

  listenAddresses(): readonly string[] {
    return this.sockets.map((entry) => entry.address)
  }

  async dial(address: string, options: DialOptions = {}): Promise<NodeId> {
    this.assertOpen()
    const parsed = parseUdpAddress(address)
    const id = await this.exchangeHello(parsed, options.expectedPeer, options.signal)
    if (!this.intents.has(id.hex))
      this.intents.set(id.hex, { id, address: parsed, attempt: 0, timer: undefined })
    return id
  }

  send(peer: NodeId, bytes: Uint8Array): SendResult {
    if (this.closed) return failure('TRANSPORT_CLOSED', 'transport is closed')
    const entry = this.peers.get(peer.hex)
    if (!entry) return failure('PEER_UNREACHABLE', `no UDP peer ${peer.toShortString()}`, { peer: peer.hex })
    const size = DATAGRAM_HEADER_BYTES + bytes.length
    if (size > this.options.datagramBytesMax) {
      return failure('FRAME_TOO_LARGE', `datagram of ${size} bytes exceeds datagramBytesMax`, {
        bytes: size,
        datagramBytesMax: this.options.datagramBytesMax,
      })
    }
    if (
      this.inflightMessages + 1 > this.options.sendQueueMessagesMax ||
      this.inflightBytes + size > this.options.sendQueueBytesMax
    ) {
      this.refused.add(peer.hex)
      this.metrics.backpressure.inc()
      return failure('BACKPRESSURE', 'UDP send queue is full', {
        inflightBytes: this.inflightBytes,
        inflightMessages: this.inflightMessages,
      })
    }
    this.inflightBytes += size
    this.inflightMessages++
    entry.sentSinceSweep = true
    entry.socket.send([this.dataHeader, bytes], entry.port, entry.host, (error) =>
      this.onSent(size, error, entry),
    )
    this.metrics.messagesOut.inc({ protocol: 'udp' })
    return SEND_OK
  }

  connectedPeers(): readonly NodeId[] {
    return [...this.peers.values()].map((entry) => entry.id)
  }

  /** Whether `peer` is currently known (heard from within the idle timeout). */
  hasPeer(peer: NodeId): boolean {
    return this.peers.has(peer.hex)
  }

  hangUp(peer: NodeId): Promise<void> {
    const intent = this.intents.get(peer.hex)
    intent?.timer?.cancel()
    this.intents.delete(peer.hex)
    const entry = this.peers.get(peer.hex)
    if (entry) this.sendControl(entry, 'bye')
    this.dropPeer(peer.hex, undefined)
    return Promise.resolve()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.sweep?.cancel()
    for (const intent of this.intents.values()) intent.timer?.cancel()
    this.intents.clear()
    for (const peer of this.peers.values()) this.sendControl(peer, 'bye', true)
    if (this.inflightMessages > 0) {
      // Graceful: datagrams already handed to the socket are let out before it closes.
      await new Promise<void>((resolve) => {
        const timer = this.components.clock.setTimer(this.options.closeTimeoutMs, resolve)
        this.inflightWaiters.push(() => {
          timer.cancel()
          resolve()
        })
      })
    }
    for (const key of [...this.peers.keys()]) this.dropPeer(key, undefined)
    const sockets = this.sockets.map((entry) => entry.socket)
    // An ephemeral socket whose bind failed was never opened; its dial already reported the failure.
    const ephemeral = await Promise.allSettled(this.ephemeral.values())
    for (const outcome of ephemeral) if (outcome.status === 'fulfilled') sockets.push(outcome.value)
    this.sockets.length = 0
    this.ephemeral.clear()
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))))
  }

  // receive ------------------------------------------------------------------------------------

  private adoptSocket(socket: dgram.Socket): void {
    // Bursts beyond the kernel's receive buffer are dropped silently, so ask for a buffer as large as
    // the socket budget; the kernel caps it at net.core.rmem_max, which is fine (best effort).
    try {
      socket.setRecvBufferSize(this.options.socketBufferBytesMax)
      socket.setSendBufferSize(this.options.socketBufferBytesMax)
    } catch (thrown) {
      this.components.logger.debug({ error: toError(thrown).message }, 'could not size udp socket buffers')
    }
    socket.on('message', (message: Buffer, remote: dgram.RemoteInfo) =>
      this.onDatagram(socket, message, remote),
    )
    socket.on('error', (error) => {
      this.components.logger.warn({ error: toError(error).message }, 'udp socket error')
    })
    if (!this.sweep) {
      const interval = sweepIntervalMs(this.options)
      if (interval > 0) this.sweep = every(this.components.clock, interval, () => this.sweepPeers())
    }
  }

  private onDatagram(socket: dgram.Socket, message: Buffer, remote: dgram.RemoteInfo): void {
    this.metrics.bytesIn.inc({ protocol: 'udp' }, message.length)
    const address = formatAddress({ protocol: 'udp', host: remote.address, port: remote.port, path: '/' })
    if (message.length > this.options.datagramBytesMax) {
      this.drop(
        'OVERSIZED',
        new TransportError(
          'FRAME_TOO_LARGE',
          `datagram of ${message.length} bytes exceeds datagramBytesMax`,
          {
            bytes: message.length,
            datagramBytesMax: this.options.datagramBytesMax,
            address,
          },
        ),
        address,
      )
      return
    }
    let datagram
    try {
      datagram = decodeDatagram(message)
    } catch (thrown) {
      const reason = thrown instanceof DecodeError ? thrown.code : 'MALFORMED'
      this.drop(
        reason,
        new TransportError(
          'BAD_FRAME',
          `bad datagram from ${address}: ${toError(thrown).message}`,
          { address, reason },
          {
            cause: toError(thrown),
          },
        ),
        address,
      )
      return
    }
    if (datagram.sender.equals(this.localId)) {
      this.drop(
        'SELF',
        new TransportError('BAD_FRAME', `datagram from ${address} claims our own id`, { address }),
        address,
      )
      return
    }
    if (datagram.kind === 'bye') {
      // The peer hung up or shut down. As with a stream connection the remote closed cleanly, a peer
      // this node dialed is re-dialed (it may be restarting); the others are simply forgotten.
      this.dropPeer(datagram.sender.hex, undefined, true)
      return
    }
    const direction: ConnectionDirection = datagram.kind === 'hello-ack' ? 'outbound' : 'inbound'
    const peer = this.touch(datagram.sender, socket, remote, address, direction)
    if (!peer) {
      this.drop(
        'PEERS_EXHAUSTED',
        new TransportError(
          'CONNECTIONS_EXHAUSTED',
          `UDP peer table is full (${this.options.connectionsMax})`,
          {
            address,
            connectionsMax: this.options.connectionsMax,
          },
        ),
        address,
        'CONNECTIONS_EXHAUSTED',
      )
      return
    }
    switch (datagram.kind) {
      case 'data':
        this.metrics.messagesIn.inc({ protocol: 'udp' })
        this.events.emit('message', { from: peer.id, bytes: datagram.payload })
        return
      case 'hello':
        this.sendControl(peer, 'hello-ack')
        return
      case 'hello-ack': {
        const key = endpointKey(remote.address, remote.port)
        const waiting = this.hellos.get(key)
        this.hellos.delete(key)
        for (const pending of waiting ?? []) pending.resolve(peer.id)
        return
      }
      case 'ping':
        this.sendControl(peer, 'pong')
        return
      case 'pong':
        return
    }
  }

  private touch(
    id: NodeId,
    socket: dgram.Socket,
    remote: dgram.RemoteInfo,
    address: string,
    direction: ConnectionDirection,
  ): UdpPeer | undefined {
    const existing = this.peers.get(id.hex)
    if (existing) {
      existing.receivedSinceSweep = true
      if (existing.port !== remote.port || existing.host !== remote.address) {
        existing.host = remote.address
        existing.port = remote.port
        existing.address = address
        existing.socket = socket
      }
      return existing
    }
    if (this.closed || this.peers.size >= this.options.connectionsMax) return undefined
    const now = this.components.clock.now()
    const peer: UdpPeer = {
      id,
      host: remote.address,
      port: remote.port,
      socket,
      address,
      receivedSinceSweep: false,
      sentSinceSweep: false,
      lastReceivedMs: now,
      lastSentMs: now,
    }
    this.peers.set(id.hex, peer)
    const intent = this.intents.get(id.hex)
    if (intent) {
      intent.timer?.cancel()
      intent.timer = undefined
      intent.attempt = 0
    }
    this.metrics.connectionsOpen.inc({ protocol: 'udp' })
    this.events.emit('peer:connect', { peer: id, address, direction })
    return peer
  }

  private drop(
    reason: string,
    error: TransportError,
    address: string,
    counter: 'BAD_FRAME' | 'CONNECTIONS_EXHAUSTED' = 'BAD_FRAME',
  ): void {
    this.metrics.datagramsDropped.inc({ reason })
    if (counter === 'BAD_FRAME') this.metrics.badFrames.inc({ protocol: 'udp', reason })
    else this.metrics.connectionsRefused.inc({ protocol: 'udp', reason })
    this.events.emit('error', { error, address })
  }

  // send ---------------------------------------------------------------------------------------

  /** Sends a header-only datagram; `tracked` counts it as in flight so `close` waits for it. */
  private sendControl(peer: UdpPeer, kind: DatagramKind, tracked = false): void {
    peer.sentSinceSweep = true
    const datagram = encodeDatagram(kind, this.localId, EMPTY)
    if (tracked) {
      this.inflightBytes += datagram.length
      this.inflightMessages++
    }
    peer.socket.send(datagram, peer.port, peer.host, (error) => {
      if (tracked) this.onSent(datagram.length, error, peer)
      else if (error)
        this.components.logger.debug({ error: error.message, peer: peer.address }, 'udp control send failed')
    })
  }

  private onSent(size: number, error: Error | null, peer: UdpPeer): void {
    this.inflightBytes -= size
    this.inflightMessages--
    this.metrics.bytesOut.inc({ protocol: 'udp' }, size)
    if (error) {
      this.events.emit('error', { error: ioError(error, peer.address), peer: peer.id, address: peer.address })
    }
    if (
      this.refused.size > 0 &&
      this.inflightBytes <= this.options.sendQueueBytesMax / 2 &&
      this.inflightMessages <= this.options.sendQueueMessagesMax / 2
    ) {
      const refused = [...this.refused]
      this.refused.clear()
      for (const hex of refused) {
        const entry = this.peers.get(hex)
        if (entry) this.events.emit('drain', { peer: entry.id })
      }
    }
    if (this.inflightMessages === 0 && this.inflightWaiters.length > 0) {
      const waiters = this.inflightWaiters
      this.inflightWaiters = []
      for (const resolve of waiters) resolve()
    }
  }

  private async exchangeHello(
    address: PeerAddress,
    expectedPeer?: NodeId,
    signal?: AbortSignal,
  ): Promise<NodeId> {
    const socket = await this.socketFor(address.host)
    const key = endpointKey(address.host, address.port)
    const hello = encodeDatagram('hello', this.localId, EMPTY)
    const clock = this.components.clock
    const id = await new Promise<NodeId>((resolve, reject) => {
      const retransmitMs = Math.max(20, this.options.handshakeTimeoutMs / 5)
      let retransmit: TimerHandle | undefined
      const transmit = (): void => {
        socket.send(hello, address.port, address.host, (error) => {
          if (error) finish(ioError(error, address.url))
        })
        retransmit = clock.setTimer(retransmitMs, transmit)
      }
      const deadline = clock.setTimer(this.options.handshakeTimeoutMs, () =>
        finish(
          new TransportError('HANDSHAKE_TIMEOUT', `no UDP hello reply from ${address.url}`, {
            address: address.url,
          }),
        ),
      )
      const onAbort = (): void =>
        finish(
          new TransportError('PEER_UNREACHABLE', `dial to ${address.url} aborted`, { address: address.url }),
        )
      signal?.addEventListener('abort', onAbort, { once: true })
      const pending: PendingHello = { resolve: (peer) => finish(peer) }
      let done = false
      const finish = (outcome: NodeId | TransportError): void => {
        if (done) return
        done = true
        retransmit?.cancel()
        deadline.cancel()
        signal?.removeEventListener('abort', onAbort)
        const list = this.hellos.get(key)?.filter((entry) => entry !== pending)
        if (list && list.length > 0) this.hellos.set(key, list)
        else this.hellos.delete(key)
        if (outcome instanceof TransportError) reject(outcome)
        else resolve(outcome)
      }
      const list = this.hellos.get(key) ?? []
      list.push(pending)
      this.hellos.set(key, list)
      if (signal?.aborted) onAbort()
      else transmit()
    })
    if (expectedPeer && !expectedPeer.equals(id)) {
      throw new TransportError('PEER_ID_MISMATCH', `UDP peer at ${address.url} is not the expected node`, {
        expected: expectedPeer.toShortString(),
        actual: id.toShortString(),
      })
    }
    return id
  }

  private socketFor(host: string): Promise<dgram.Socket> {
    const family = familyOf(host)
    const listening = this.sockets.find(
      (entry) => entry.socket.address().family === (family === 'udp6' ? 'IPv6' : 'IPv4'),
    )
    if (listening) return Promise.resolve(listening.socket)
    let pending = this.ephemeral.get(family)
    if (!pending) {
      const socket = dgram.createSocket({ type: family })
      pending = bind(socket, { host: family === 'udp6' ? '::' : '0.0.0.0', port: 0 }).then(() => {
        this.adoptSocket(socket)
        return socket
      })
      this.ephemeral.set(family, pending)
    }
    return pending
  }

  // liveness -----------------------------------------------------------------------------------

  private sweepPeers(): void {
    const now = this.components.clock.now()
    const { idleTimeoutMs, keepaliveIntervalMs } = this.options
    for (const [key, peer] of [...this.peers]) {
      if (peer.receivedSinceSweep) {
        peer.receivedSinceSweep = false
        peer.lastReceivedMs = now
      } else if (idleTimeoutMs > 0 && now - peer.lastReceivedMs > idleTimeoutMs) {
        this.dropPeer(
          key,
          new TransportError('IDLE_TIMEOUT', `nothing heard from ${peer.address} for ${idleTimeoutMs} ms`, {
            address: peer.address,
          }),
        )
        continue
      }
      if (peer.sentSinceSweep) {
        peer.sentSinceSweep = false
        peer.lastSentMs = now
      } else if (keepaliveIntervalMs > 0 && now - peer.lastSentMs >= keepaliveIntervalMs) {
        this.sendControl(peer, 'ping')
        peer.sentSinceSweep = false
        peer.lastSentMs = now
      }
    }
  }

  private dropPeer(key: string, error: TransportError | undefined, redial = error !== undefined): void {
    const peer = this.peers.get(key)
    if (!peer) return
    this.peers.delete(key)
    this.refused.delete(key)
    this.metrics.connectionsOpen.dec({ protocol: 'udp' })
    this.events.emit('peer:disconnect', error ? { peer: peer.id, error } : { peer: peer.id })
    const intent = this.intents.get(key)
    if (intent && redial && !this.closed && this.options.reconnect) this.scheduleReconnect(intent)
  }

  private scheduleReconnect(intent: UdpIntent): void {
    const delayMs = planReconnect(intent, this.options, this.components, this.metrics, this.events)
    if (delayMs === undefined) {
      this.intents.delete(intent.id.hex)
      return
    }
    intent.timer = this.components.clock.setTimer(delayMs, () => {
      intent.timer = undefined
      if (this.closed || this.intents.get(intent.id.hex) !== intent || this.peers.has(intent.id.hex)) return
      this.exchangeHello(intent.address, intent.id).then(
        () => {
          intent.attempt = 0
        },
        (thrown: unknown) => {
          this.components.logger.debug({ error: toError(thrown).message }, 'udp reconnect attempt failed')
          if (!this.closed && this.intents.get(intent.id.hex) === intent && !this.peers.has(intent.id.hex)) {
            this.scheduleReconnect(intent)
          }
        },
      )
    })
  }

  private assertOpen(): void {
    if (this.closed) throw new TransportError('TRANSPORT_CLOSED', 'transport is closed')
  }
}

function failure(
  code: TransportError['code'],
  message: string,
  context: Record<string, unknown> = {},
): SendResult {
  return { ok: false, error: new TransportError(code, message, context) }
}

function parseUdpAddress(address: string): PeerAddress {
  let parsed: PeerAddress
  try {
    parsed = parseAddress(address)
  } catch (thrown) {
    throw new TransportError(
      'INVALID_ADDRESS',
      toError(thrown).message,
      { address },
      { cause: toError(thrown) },
    )
  }
  if (parsed.protocol !== 'udp') {
    throw new TransportError('INVALID_ADDRESS', `not a udp:// address: ${address}`, { address })
  }
  return parsed
}

function familyOf(host: string): 'udp4' | 'udp6' {
  return net.isIPv6(host) ? 'udp6' : 'udp4'
}

function endpointKey(host: string, port: number): string {
  return `${host}|${port}`
}

function bind(socket: dgram.Socket, address: { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(ioError(error, `udp://${address.host}:${address.port}`))
    socket.once('error', onError)
    socket.bind({ address: address.host, port: address.port, exclusive: true }, () => {
      socket.off('error', onError)
      resolve()
    })
  })
}
