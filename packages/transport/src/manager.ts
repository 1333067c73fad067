import {
  Emitter,
  SocketCloudError,
  TransportError,
  every,
  parseAddress,
  toError,
  type AddressProtocol,
  type DialOptions,
  type NodeId,
  type PeerAddress,
  type PeerInfo,
  type SendResult,
  type TimerHandle,
  type Transport,
  type TransportEvents,
} from '@socketcloud/core'
import { planReconnect } from './reconnect'
import { resolveComponents, type ResolvedComponents, type TransportComponents } from './components'
import { Connection, type ConnectionOwner } from './connection'
import { MemDriver } from './drivers/mem'
import { TcpDriver } from './drivers/tcp'
import { WsDriver } from './drivers/ws'
import {
  sealOverheadBytesMax,
  type Link,
  type LinkDriver,
  type LinkHandlers,
  type ListenerHandle,
} from './link'
import { TransportMetrics } from './metrics'
import { resolveTransportOptions, type TransportInit, type TransportOptions } from './options'
import { detach } from './detach'
import { sweepIntervalMs } from './sweep'
import { UdpTransport } from './udp'

const ALL_PROTOCOLS: readonly AddressProtocol[] = ['tcp', 'ws', 'wss', 'mem', 'udp']

export interface TransportManagerInit extends TransportInit {
  /** Address protocols this transport handles; others are refused with INVALID_ADDRESS. @default all */
  readonly protocols?: readonly AddressProtocol[]
}

/** What `peerConnections` reports about one connection. */
export interface ConnectionInfo {
  readonly protocol: AddressProtocol
  readonly direction: 'inbound' | 'outbound'
  readonly address: string
  readonly state: 'handshaking' | 'open' | 'closing' | 'closed'
}

/** One peer's open connections; `preferred` carries sends. Usually exactly one connection. */
interface PeerEntry {
  readonly id: NodeId
  connections: Connection[]
  preferred: Connection
}

/** A peer this node dialed and keeps connected: reconnects go through its addresses in order. */
interface DialIntent {
  readonly id: NodeId
  addresses: readonly PeerAddress[]
  attempt: number
  timer: TimerHandle | undefined
}

/**
 * The transport nodes use: listens on any number of addresses (`tcp://`, `ws://`, `mem://`,
 * `udp://`) at once, dials a peer by whichever address it advertises, and keeps at most one live
 * connection per peer.
 *
 * - Pooling: `dial` reuses a live connection to the same peer, and concurrent dials to one address
 *   share one attempt.
 * - Simultaneous dials: when both sides dial each other, both prefer the connection initiated by the
 *   node with the smaller id (bytewise), and the initiator of the other one closes it once it holds
 *   both, so they agree without talking. Two connections from one initiator resolve to the newest.
 * - Reconnect: a peer this node dialed is re-dialed after its connection drops (not after `hangUp`
 *   or `close`), with exponential backoff and full jitter, announced by `peer:reconnecting`.
 * - Liveness: a connection that receives nothing for `idleTimeoutMs` is closed; keepalives sent
 *   every `keepaliveIntervalMs` of send silence keep healthy connections open.
 * - Every stream connection passes the ConnectionUpgrader before carrying messages.
 * - UDP peers (unauthenticated; see UdpTransport) are used only when a peer has no stream connection.
 */
export class TransportManager implements Transport {
  readonly localId: NodeId
  readonly events = new Emitter<TransportEvents>()
  readonly options: TransportOptions
  private readonly components: ResolvedComponents
  private readonly metrics: TransportMetrics
  private readonly protocols: ReadonlySet<AddressProtocol>
  private readonly drivers = new Map<AddressProtocol, LinkDriver>()
  private readonly listeners: ListenerHandle[] = []
  private readonly connections = new Set<Connection>()
  private readonly peers = new Map<string, PeerEntry>()
  private readonly intents = new Map<string, DialIntent>()
  private readonly pendingDials = new Map<string, Promise<NodeId>>()
  private readonly addressPeers = new Map<string, NodeId>()
  private readonly owner: ConnectionOwner
  private udp: UdpTransport | undefined
  private sweep: TimerHandle | undefined
  private closing: Promise<void> | undefined

  constructor(components: TransportComponents, init: TransportManagerInit = {}) {
    this.components = resolveComponents(components, 'transport')
    this.localId = components.localId
    this.options = resolveTransportOptions(init)
    this.metrics = new TransportMetrics(this.components.metrics)
    this.protocols = new Set(init.protocols ?? ALL_PROTOCOLS)
    for (const protocol of this.protocols) {
      if (!ALL_PROTOCOLS.includes(protocol)) {
        throw new TransportError('INVALID_ADDRESS', `unknown protocol ${String(protocol)}`, { protocol })
      }
    }
    const limits = {
      wireFrameBytesMax: this.options.frameBytesMax + sealOverheadBytesMax(this.options.frameBytesMax),
      socketBufferBytesMax: this.options.socketBufferBytesMax,
    }
    const tcp = new TcpDriver(limits, this.components.logger)
    const ws = new WsDriver(limits)
    const mem = new MemDriver(this.components.memoryNetwork)
    for (const driver of [tcp, ws, mem] as LinkDriver[]) {
      for (const protocol of driver.protocols)
        if (this.protocols.has(protocol)) this.drivers.set(protocol, driver)
    }
    this.owner = this.createOwner()
    const interval = sweepIntervalMs(this.options)
    if (interval > 0) this.sweep = every(this.components.clock, interval, () => this.sweepConnections())
  }

  // Transport ----------------------------------------------------------------------------------

  async listen(address: string): Promise<string> {
    this.assertOpen()
    const parsed = this.parse(address)
    if (parsed.protocol === 'udp') {
      const bound = await this.datagrams().listen(parsed.url)
      return bound
    }
    const driver = this.driverFor(parsed)
    const handle = await driver.listen(parsed, (link) => this.accept(link))
    if (this.closing) {
      await handle.close()
      throw new TransportError('TRANSPORT_CLOSED', 'transport closed while listening')
    }
    this.listeners.push(handle)
    this.components.logger.info({ address: handle.address }, 'listening')
    return handle.address
  }

  listenAddresses(): readonly string[] {
    return [...this.listeners.map((handle) => handle.address), ...(this.udp?.listenAddresses() ?? [])]
  }

  async dial(address: string, options: DialOptions = {}): Promise<NodeId> {
    this.assertOpen()
    const parsed = this.parse(address)
    if (parsed.protocol === 'udp') return this.datagrams().dial(parsed.url, options)
    this.driverFor(parsed)
    const known = options.expectedPeer ?? this.addressPeers.get(parsed.url)
    if (known && this.peers.has(known.hex)) return known
    let pending = this.pendingDials.get(parsed.url)
    if (!pending) {
      pending = this.connect(parsed, options.expectedPeer, options.signal).finally(() => {
        this.pendingDials.delete(parsed.url)
      })
      this.pendingDials.set(parsed.url, pending)
    }
    const id = await pending
    if (options.expectedPeer && !options.expectedPeer.equals(id)) {
      throw new TransportError('PEER_ID_MISMATCH', `${parsed.url} is not the expected node`, {
        expected: options.expectedPeer.toShortString(),
        actual: id.toShortString(),
      })
    }
    this.addressPeers.set(parsed.url, id)
    this.remember(id, [parsed])
    return id
  }

  /**
   * Dials a peer by the addresses it advertises, trying them in order (stream protocols this
   * transport handles first, UDP last) until one connects; reconnects use the same list.
   */
  async dialPeer(peer: PeerInfo, options: Omit<DialOptions, 'expectedPeer'> = {}): Promise<NodeId> {
    this.assertOpen()
    if (this.peers.has(peer.id.hex)) return peer.id
    const candidates = this.usableAddresses(peer.addresses)
    if (candidates.length === 0) {
      throw new TransportError(
        'PEER_UNREACHABLE',
        `peer ${peer.id.toShortString()} advertises no usable address`,
        {
          peer: peer.id.hex,
          addresses: peer.addresses,
        },
      )
    }
    const errors: string[] = []
    for (const candidate of candidates) {
      try {
        const id = await this.dial(candidate.url, { ...options, expectedPeer: peer.id })
        this.remember(
          peer.id,
          candidates.filter((entry) => entry.protocol !== 'udp'),
        )
        return id
      } catch (thrown) {
        if (thrown instanceof TransportError && thrown.code === 'TRANSPORT_CLOSED') throw thrown
        errors.push(`${candidate.url}: ${toError(thrown).message}`)
      }
    }
    throw new TransportError('PEER_UNREACHABLE', `no address of ${peer.id.toShortString()} answered`, {
      peer: peer.id.hex,
      errors,
    })
  }

  send(peer: NodeId, bytes: Uint8Array): SendResult {
    const entry = this.peers.get(peer.hex)
    if (entry) return entry.preferred.send(bytes)
    if (this.udp?.hasPeer(peer)) return this.udp.send(peer, bytes)
    if (this.closing) {
      return { ok: false, error: new TransportError('TRANSPORT_CLOSED', 'transport is closed') }
    }
    return {
      ok: false,
      error: new TransportError('PEER_UNREACHABLE', `no connection to ${peer.toShortString()}`, {
        peer: peer.hex,
      }),
    }
  }

  connectedPeers(): readonly NodeId[] {
    const ids = [...this.peers.values()].map((entry) => entry.id)
    for (const id of this.udp?.connectedPeers() ?? []) if (!this.peers.has(id.hex)) ids.push(id)
    return ids
  }

  /** The open connections to `peer`, preferred first (diagnostics; normally exactly one). */
  peerConnections(peer: NodeId): readonly ConnectionInfo[] {
    const entry = this.peers.get(peer.hex)
    if (!entry) return []
    const ordered = [
      entry.preferred,
      ...entry.connections.filter((connection) => connection !== entry.preferred),
    ]
    return ordered.map((connection) => ({
      protocol: connection.protocol,
      direction: connection.direction,
      address: connection.address,
      state: connection.state,
    }))
  }

  /** Queued bytes and messages on the connection to `peer` (for diagnostics and tests). */
  queueDepth(peer: NodeId): { readonly bytes: number; readonly messages: number } {
    const connection = this.peers.get(peer.hex)?.preferred
    return { bytes: connection?.queuedBytes ?? 0, messages: connection?.queuedMessages ?? 0 }
  }

  async hangUp(peer: NodeId): Promise<void> {
    const intent = this.intents.get(peer.hex)
    intent?.timer?.cancel()
    this.intents.delete(peer.hex)
    const entry = this.peers.get(peer.hex)
    const closing = (entry?.connections ?? []).map((connection) => this.closeGracefully(connection))
    await Promise.all([...closing, this.udp?.hangUp(peer)])
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  // connections --------------------------------------------------------------------------------

  private async connect(
    address: PeerAddress,
    expectedPeer: NodeId | undefined,
    signal?: AbortSignal,
  ): Promise<NodeId> {
    const driver = this.driverFor(address)
    if (this.connections.size >= this.options.connectionsMax) {
      this.metrics.connectionsRefused.inc({ protocol: address.protocol, reason: 'CONNECTIONS_EXHAUSTED' })
      throw new TransportError(
        'CONNECTIONS_EXHAUSTED',
        `connectionsMax ${this.options.connectionsMax} reached`,
        {
          connectionsMax: this.options.connectionsMax,
          address: address.url,
        },
      )
    }
    const connection = new Connection(this.owner, address.protocol, 'outbound', address.url)
    this.connections.add(connection)
    const controller = new AbortController()
    const timer = this.components.clock.setTimer(this.options.dialTimeoutMs, () =>
      controller.abort(
        new TransportError('PEER_UNREACHABLE', `connecting to ${address.url} timed out`, {
          address: address.url,
          dialTimeoutMs: this.options.dialTimeoutMs,
        }),
      ),
    )
    const onAbort = (): void => controller.abort(signal?.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    let link: Link
    try {
      link = await driver.dial(address, connection, controller.signal)
    } catch (thrown) {
      this.connections.delete(connection)
      throw asTransportError(thrown, 'PEER_UNREACHABLE', address.url)
    } finally {
      timer.cancel()
      signal?.removeEventListener('abort', onAbort)
    }
    connection.attach(link, this.components.clock.now())
    if (this.closing) {
      connection.retired = true
      connection.destroy()
      throw new TransportError('TRANSPORT_CLOSED', 'transport closed while dialing')
    }
    const session = await this.upgrade(connection, expectedPeer)
    return this.adopt(connection, session.remotePeer, session)
  }

  private accept(link: Link): LinkHandlers | undefined {
    if (this.closing) return undefined
    if (this.connections.size >= this.options.connectionsMax) {
      this.metrics.connectionsRefused.inc({ protocol: link.protocol, reason: 'CONNECTIONS_EXHAUSTED' })
      this.components.logger.warn(
        { address: link.remoteAddress },
        'refused a connection: connectionsMax reached',
      )
      this.events.emit('error', {
        error: new TransportError(
          'CONNECTIONS_EXHAUSTED',
          `refused ${link.remoteAddress}: connectionsMax reached`,
          {
            connectionsMax: this.options.connectionsMax,
            address: link.remoteAddress,
          },
        ),
        address: link.remoteAddress,
      })
      return undefined
    }
    const connection = new Connection(this.owner, link.protocol, 'inbound', link.remoteAddress)
    connection.attach(link, this.components.clock.now())
    this.connections.add(connection)
    this.upgrade(connection, undefined).then(
      (session) => {
        this.adopt(connection, session.remotePeer, session)
      },
      (thrown: unknown) => {
        // upgrade() already counted, reported and closed it; an inbound failure has no caller to reject.
        this.components.logger.debug({ error: toError(thrown).message }, 'inbound upgrade failed')
      },
    )
    return connection
  }

  private async upgrade(connection: Connection, expectedPeer: NodeId | undefined) {
    const controller = new AbortController()
    const timeout = new TransportError(
      'HANDSHAKE_TIMEOUT',
      `handshake with ${connection.address} timed out`,
      {
        address: connection.address,
        handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      },
    )
    const timer = this.components.clock.setTimer(this.options.handshakeTimeoutMs, () =>
      controller.abort(timeout),
    )
    const aborted = new Promise<never>((_resolve, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), {
        once: true,
      })
    })
    aborted.catch(() => undefined) // observed through the race below; this only silences the spare branch
    try {
      const session = await Promise.race([
        this.components.upgrader.upgrade(connection.handshakeChannel(), {
          localId: this.localId,
          ...(expectedPeer ? { expectedPeer } : {}),
          signal: controller.signal,
        }),
        aborted,
      ])
      if (session.remotePeer.equals(this.localId)) {
        throw new TransportError('HANDSHAKE_FAILED', `${connection.address} is this node itself`, {
          address: connection.address,
        })
      }
      if (connection.state !== 'handshaking') {
        throw new TransportError('CONNECTION_CLOSED', `${connection.address} closed during the handshake`, {
          address: connection.address,
        })
      }
      return session
    } catch (thrown) {
      const error = asTransportError(thrown, 'HANDSHAKE_FAILED', connection.address)
      // A connection this node is closing anyway (shutdown, hang-up) is not a handshake failure.
      if (connection.state !== 'closed' && !connection.retired) {
        this.metrics.handshakeFailures.inc({ protocol: connection.protocol, reason: error.code })
        this.components.logger.warn({ address: connection.address, code: error.code }, 'handshake failed')
        if (connection.direction === 'inbound')
          this.events.emit('error', { error, address: connection.address })
      }
      connection.retired = true
      connection.fail(error)
      throw error
    } finally {
      timer.cancel()
      controller.abort()
    }
  }

  private adopt(
    connection: Connection,
    peer: NodeId,
    session: Parameters<Connection['activate']>[0],
  ): NodeId {
    connection.activate(session)
    this.metrics.connectionsOpen.inc({ protocol: connection.protocol })
    const entry = this.peers.get(peer.hex)
    if (!entry) {
      this.peers.set(peer.hex, { id: peer, connections: [connection], preferred: connection })
      this.cancelReconnect(peer)
      if (!this.udp?.hasPeer(peer)) {
        this.events.emit('peer:connect', {
          peer,
          address: connection.address,
          direction: connection.direction,
        })
      }
    } else {
      entry.connections.push(connection)
      const winner = this.preferredOf(peer, entry.preferred, connection)
      const loser = winner === connection ? entry.preferred : connection
      entry.preferred = winner
      // Both ends pick the same winner (ids decide), and only the loser's initiator closes it: it
      // does so after it holds the winner too, so the acceptor of the loser never sees the peer
      // vanish; the acceptor keeps the loser, unused, until then.
      if (loser.direction === 'outbound') {
        this.components.logger.debug({ peer: peer.toShortString() }, 'closing duplicate connection')
        detach(this.closeGracefully(loser))
      }
    }
    // Registered first, so a message that arrived with the handshake finds its peer known.
    connection.releaseEarlyFrames()
    return peer
  }

  /** Smaller initiator wins; with one initiator, the newer connection wins. */
  private preferredOf(peer: NodeId, current: Connection, candidate: Connection): Connection {
    const currentInitiator = current.direction === 'outbound' ? this.localId : peer
    const candidateInitiator = candidate.direction === 'outbound' ? this.localId : peer
    if (currentInitiator === candidateInitiator)
      return candidate.serial > current.serial ? candidate : current
    return compareIds(candidateInitiator, currentInitiator) < 0 ? candidate : current
  }

  private onConnectionClosed(connection: Connection, error: TransportError | undefined): void {
    this.connections.delete(connection)
    this.reportInbound(connection)
    if (error && isBoundaryError(error)) {
      this.components.logger.warn(
        { address: connection.address, code: error.code, reason: error.context.reason },
        'closed a connection that sent bad input',
      )
      if (error.code === 'BAD_FRAME') {
        this.metrics.badFrames.inc({
          protocol: connection.protocol,
          reason: String(error.context.reason ?? 'MALFORMED'),
        })
      }
      this.events.emit('error', {
        error,
        address: connection.address,
        ...(connection.remotePeer ? { peer: connection.remotePeer } : {}),
      })
    }
    const peer = connection.remotePeer
    if (!peer) return
    const entry = this.peers.get(peer.hex)
    if (!entry || !entry.connections.includes(connection)) return
    this.metrics.connectionsOpen.dec({ protocol: connection.protocol })
    entry.connections = entry.connections.filter((candidate) => candidate !== connection)
    const next = entry.connections.find((candidate) => candidate.state === 'open')
    if (next) {
      if (entry.preferred === connection) entry.preferred = next
      return
    }
    if (entry.connections.length > 0 && entry.preferred !== connection) return
    this.peers.delete(peer.hex)
    if (!this.udp?.hasPeer(peer)) {
      this.events.emit('peer:disconnect', error ? { peer, error } : { peer })
    }
    const intent = this.intents.get(peer.hex)
    if (intent && !connection.retired && !this.closing && this.options.reconnect)
      this.scheduleReconnect(intent)
  }

  private closeGracefully(connection: Connection): Promise<void> {
    connection.retired = true
    if (connection.state === 'closed') return Promise.resolve()
    const timer = this.components.clock.setTimer(this.options.closeTimeoutMs, () =>
      connection.destroy(
        new TransportError(
          'CONNECTION_CLOSED',
          `queued messages to ${connection.address} did not drain in time`,
          {
            address: connection.address,
            closeTimeoutMs: this.options.closeTimeoutMs,
          },
        ),
      ),
    )
    return connection.close().finally(() => timer.cancel())
  }

  // reconnect ----------------------------------------------------------------------------------

  private remember(id: NodeId, addresses: readonly PeerAddress[]): void {
    const streamAddresses = addresses.filter((address) => address.protocol !== 'udp')
    if (streamAddresses.length === 0) return
    const intent = this.intents.get(id.hex)
    if (intent) {
      const known = new Set(intent.addresses.map((address) => address.url))
      intent.addresses = [
        ...intent.addresses,
        ...streamAddresses.filter((address) => !known.has(address.url)),
      ]
      return
    }
    this.intents.set(id.hex, { id, addresses: streamAddresses, attempt: 0, timer: undefined })
  }

  private cancelReconnect(peer: NodeId): void {
    const intent = this.intents.get(peer.hex)
    if (!intent) return
    intent.timer?.cancel()
    intent.timer = undefined
    intent.attempt = 0
  }

  private scheduleReconnect(intent: DialIntent): void {
    const delayMs = planReconnect(intent, this.options, this.components, this.metrics, this.events)
    if (delayMs === undefined) {
      this.intents.delete(intent.id.hex)
      return
    }
    intent.timer = this.components.clock.setTimer(delayMs, () => {
      intent.timer = undefined
      this.reconnect(intent).catch((thrown: unknown) => {
        this.components.logger.debug(
          { peer: intent.id.toShortString(), attempt: intent.attempt, error: toError(thrown).message },
          'reconnect attempt failed',
        )
        if (!this.closing && this.intents.get(intent.id.hex) === intent && !this.peers.has(intent.id.hex)) {
          this.scheduleReconnect(intent)
        }
      })
    })
  }

  private async reconnect(intent: DialIntent): Promise<void> {
    if (this.closing || this.intents.get(intent.id.hex) !== intent || this.peers.has(intent.id.hex)) return
    let lastError: unknown
    for (const address of intent.addresses) {
      try {
        await this.dial(address.url, { expectedPeer: intent.id })
        intent.attempt = 0
        return
      } catch (thrown) {
        lastError = thrown
      }
    }
    throw lastError ?? new TransportError('PEER_UNREACHABLE', 'no address to reconnect to')
  }

  // liveness -----------------------------------------------------------------------------------

  private sweepConnections(): void {
    const now = this.components.clock.now()
    const { idleTimeoutMs, keepaliveIntervalMs } = this.options
    for (const connection of this.connections) {
      this.reportInbound(connection)
      if (connection.state !== 'open') continue
      if (connection.receivedSinceSweep) {
        connection.receivedSinceSweep = false
        connection.lastReceivedMs = now
      } else if (idleTimeoutMs > 0 && now - connection.lastReceivedMs > idleTimeoutMs) {
        connection.fail(
          new TransportError(
            'IDLE_TIMEOUT',
            `nothing received from ${connection.address} for ${idleTimeoutMs} ms`,
            {
              address: connection.address,
              idleTimeoutMs,
            },
          ),
        )
        continue
      }
      if (connection.sentSinceSweep) {
        connection.sentSinceSweep = false
        connection.lastSentMs = now
      } else if (keepaliveIntervalMs > 0 && now - connection.lastSentMs >= keepaliveIntervalMs) {
        connection.sendKeepalive()
        connection.lastSentMs = now
      }
    }
  }

  /** Inbound counters are batched per connection and reported here, off the per-message path. */
  private reportInbound(connection: Connection): void {
    if (connection.unreportedMessagesIn === 0) return
    this.metrics.bytesIn.inc({ protocol: connection.protocol }, connection.unreportedBytesIn)
    this.metrics.messagesIn.inc({ protocol: connection.protocol }, connection.unreportedMessagesIn)
    connection.unreportedBytesIn = 0
    connection.unreportedMessagesIn = 0
  }

  // plumbing -----------------------------------------------------------------------------------

  private createOwner(): ConnectionOwner {
    return {
      options: this.options,
      onMessage: (connection, bytes) => {
        const from = connection.remotePeer
        if (!from) return
        this.events.emit('message', { from, bytes })
      },
      onDrain: (connection) => {
        const peer = connection.remotePeer
        if (peer && this.peers.get(peer.hex)?.preferred === connection) this.events.emit('drain', { peer })
      },
      onClosed: (connection, error) => this.onConnectionClosed(connection, error),
      onBackpressure: () => this.metrics.backpressure.inc(),
      onKeepalive: (connection) => this.metrics.keepalivesIn.inc({ protocol: connection.protocol }),
      onWritten: (connection, messages, bytes) => {
        this.metrics.messagesOut.inc({ protocol: connection.protocol }, messages)
        this.metrics.bytesOut.inc({ protocol: connection.protocol }, bytes)
      },
    }
  }

  private datagrams(): UdpTransport {
    if (!this.protocols.has('udp')) {
      throw new TransportError('INVALID_ADDRESS', 'udp:// is not enabled on this transport', {})
    }
    if (!this.udp) {
      const udp = new UdpTransport(
        {
          localId: this.localId,
          upgrader: this.components.upgrader,
          clock: this.components.clock,
          random: this.components.random,
          logger: this.components.logger,
          metrics: this.components.metrics,
        },
        this.options,
      )
      udp.events.on('message', (event) => this.events.emit('message', event))
      udp.events.on('error', (event) => this.events.emit('error', event))
      udp.events.on('drain', (event) => {
        if (!this.peers.has(event.peer.hex)) this.events.emit('drain', event)
      })
      udp.events.on('peer:reconnecting', (event) => this.events.emit('peer:reconnecting', event))
      udp.events.on('peer:connect', (event) => {
        if (!this.peers.has(event.peer.hex)) this.events.emit('peer:connect', event)
      })
      udp.events.on('peer:disconnect', (event) => {
        if (!this.peers.has(event.peer.hex)) this.events.emit('peer:disconnect', event)
      })
      this.udp = udp
    }
    return this.udp
  }

  private usableAddresses(addresses: readonly string[]): PeerAddress[] {
    const parsed: PeerAddress[] = []
    for (const address of addresses) {
      try {
        const candidate = parseAddress(address)
        if (this.protocols.has(candidate.protocol)) parsed.push(candidate)
      } catch (thrown) {
        this.components.logger.debug({ address, error: toError(thrown).message }, 'ignoring unusable address')
      }
    }
    // Stream transports first (authenticated, ordered), UDP last; otherwise keep the peer's order.
    return [
      ...parsed.filter((entry) => entry.protocol !== 'udp'),
      ...parsed.filter((entry) => entry.protocol === 'udp'),
    ]
  }

  private parse(address: string): PeerAddress {
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
    if (!this.protocols.has(parsed.protocol)) {
      throw new TransportError('INVALID_ADDRESS', `${parsed.protocol}:// is not enabled on this transport`, {
        address,
        protocols: [...this.protocols],
      })
    }
    return parsed
  }

  private driverFor(address: PeerAddress): LinkDriver {
    const driver = this.drivers.get(address.protocol)
    if (!driver) {
      throw new TransportError('INVALID_ADDRESS', `${address.protocol}:// is not enabled on this transport`, {
        address: address.url,
      })
    }
    return driver
  }

  private assertOpen(): void {
    if (this.closing) throw new TransportError('TRANSPORT_CLOSED', 'transport is closed')
  }

  private async shutdown(): Promise<void> {
    this.sweep?.cancel()
    for (const intent of this.intents.values()) intent.timer?.cancel()
    this.intents.clear()
    const listeners = this.listeners.splice(0)
    const stopListening = listeners.map((handle) => handle.close())
    await Promise.all([...this.connections].map((connection) => this.closeGracefully(connection)))
    await Promise.all([...stopListening, this.udp?.close()])
    this.components.logger.info({}, 'closed')
  }
}

function compareIds(a: NodeId, b: NodeId): number {
  const left = a.bytes
  const right = b.bytes
  for (let index = 0; index < left.length; index++) {
    const difference = left[index]! - right[index]!
    if (difference !== 0) return difference
  }
  return 0
}

/** Errors that mean "refused at the boundary" and are reported through the `error` event. */
function isBoundaryError(error: TransportError): boolean {
  return error.code === 'BAD_FRAME' || error.code === 'FRAME_TOO_LARGE'
}

function asTransportError(
  thrown: unknown,
  fallback: TransportError['code'],
  address: string,
): TransportError {
  if (thrown instanceof TransportError) return thrown
  if (thrown instanceof SocketCloudError) {
    return new TransportError(
      fallback,
      thrown.message,
      { address, code: thrown.code, ...thrown.context },
      { cause: thrown },
    )
  }
  return new TransportError(
    fallback,
    `${fallback.toLowerCase()} for ${address}: ${toError(thrown).message}`,
    { address },
    {
      cause: toError(thrown),
    },
  )
}
