import {
  checkNumber,
  every,
  noopLogger,
  noopMetrics,
  toError,
  type Clock,
  type Counter,
  type Logger,
  type Metrics,
  type NodeId,
  type TimerHandle,
  type Transport,
} from '@socketcloud/core'

export interface PeerConnectorComponents {
  readonly transport: Transport
  readonly clock: Clock
  readonly logger?: Logger
  readonly metrics?: Metrics
}

export interface PeerConnectorInit {
  /** Each peer and the address it listens on. */
  readonly peers: ReadonlyMap<NodeId, string> | ReadonlyArray<readonly [NodeId, string]>
  /** How often unconnected peers are dialled again (at most one dial per peer in flight). @default 250 */
  readonly redialIntervalMs?: number
}

/**
 * Keeps a connection open to every peer of a consensus group: dials each at start and again, on the
 * clock, whenever it is not connected. Consensus engines tolerate lost messages, so the runtime only
 * needs the connections to come back; this is the piece that brings them back after a crash, a
 * partition or a restart, on any transport (the simulator's, TCP, WebSocket).
 */
export class PeerConnector {
  private readonly transport: Transport
  private readonly clock: Clock
  private readonly logger: Logger
  private readonly peers = new Map<string, readonly [NodeId, string]>()
  private readonly redialIntervalMs: number
  private readonly dialing = new Set<string>()
  private readonly dialFailures: Counter
  private timer: TimerHandle | null = null

  constructor(components: PeerConnectorComponents, init: PeerConnectorInit) {
    this.transport = components.transport
    this.clock = components.clock
    this.logger = (components.logger ?? noopLogger).child({ component: 'peer-connector' })
    for (const [peer, address] of init.peers instanceof Map
      ? init.peers.entries()
      : (init.peers as Iterable<[NodeId, string]>)) {
      this.setPeer(peer, address)
    }
    this.redialIntervalMs = checkNumber('redialIntervalMs', init.redialIntervalMs ?? 250, 1)
    this.dialFailures = (components.metrics ?? noopMetrics).counter({
      name: 'socketcloud_consensus_dial_failures_total',
      help: 'Dials to consensus peers that failed (retried on the next interval)',
    })
  }

  start(): void {
    if (this.timer) return
    this.timer = every(this.clock, this.redialIntervalMs, () => this.connectAll())
    this.connectAll()
  }

  stop(): void {
    this.timer?.cancel()
    this.timer = null
  }

  /** Adds a peer, or changes its address (a member that joined or moved); dialled on the next interval. */
  setPeer(peer: NodeId, address: string): void {
    if (peer.equals(this.transport.localId)) return
    this.peers.set(peer.hex, [peer, address])
  }

  /** Stops keeping a connection to `peer` (a removed member); an open connection is left to its owner. */
  removePeer(peer: NodeId): void {
    this.peers.delete(peer.hex)
  }

  /** The peers kept connected, with their addresses. */
  peerAddresses(): ReadonlyArray<readonly [NodeId, string]> {
    return [...this.peers.values()]
  }

  private connectAll(): void {
    const connected = new Set(this.transport.connectedPeers().map((peer) => peer.hex))
    for (const [peer, address] of this.peers.values()) {
      if (connected.has(peer.hex) || this.dialing.has(peer.hex)) continue
      this.dialing.add(peer.hex)
      this.transport.dial(address, { expectedPeer: peer }).then(
        () => this.dialing.delete(peer.hex),
        (thrown: unknown) => {
          this.dialing.delete(peer.hex)
          this.dialFailures.inc()
          this.logger.trace({ peer: peer.toShortString(), error: toError(thrown).message }, 'dial failed')
        },
      )
    }
  }
}
