import { Emitter, SEND_OK, TransportError, assert, parseAddress } from '@socketcloud/core'
import type {
  ConnectionDirection,
  DialOptions,
  NodeId,
  SendResult,
  Transport,
  TransportEvents,
} from '@socketcloud/core'
import type { SimNetwork } from './sim-network'

/** One connection between two endpoints, shared by both; each side joins and leaves on its own. */
export class SimConnection {
  constructor(
    readonly id: number,
    readonly a: SimTransport,
    readonly b: SimTransport,
  ) {}

  other(side: SimTransport): SimTransport {
    return side === this.a ? this.b : this.a
  }
}

/** A one-way message path from this endpoint to one peer: order, in-flight count and trace labels. */
export interface Lane {
  lastArrivalMs: number
  inflight: number
  waitingForDrain: boolean
  readonly label: string
}

/**
 * One node's endpoint on a SimNetwork, implementing core `Transport`. Create it with
 * `network.endpoint(id)`; it dies with `network.crash(id)` (no more events, sends fail with
 * TRANSPORT_CLOSED) and `network.restart(id)` returns a fresh one with no listeners or connections,
 * as a restarted process would have.
 */
export class SimTransport implements Transport {
  readonly events: Emitter<TransportEvents>
  /** Short printable id used in trace labels. */
  readonly label: string
  /** @internal */ readonly connections = new Map<string, SimConnection>()
  /** @internal */ readonly lanes = new Map<string, Lane>()
  private readonly addresses: string[] = []
  private closed = false
  private crashed = false

  constructor(
    readonly localId: NodeId,
    /** Counts restarts of this node id, from 0. */
    readonly incarnation: number,
    private readonly network: SimNetwork,
  ) {
    this.label = localId.toShortString()
    this.events = new Emitter<TransportEvents>((error) => {
      // A listener that throws is a bug in the code under test: fail the run (with its seed) now.
      throw error
    })
  }

  /** True until `close()` or a crash. */
  get isOpen(): boolean {
    return !this.closed && !this.crashed
  }

  get isCrashed(): boolean {
    return this.crashed
  }

  listen(address: string): Promise<string> {
    try {
      this.assertOpen()
      const url = this.parseMemAddress(address)
      if (this.addresses.includes(url)) return Promise.resolve(url)
      this.network.bindAddress(url, this)
      this.addresses.push(url)
      return Promise.resolve(url)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  listenAddresses(): readonly string[] {
    return [...this.addresses]
  }

  dial(address: string, options: DialOptions = {}): Promise<NodeId> {
    try {
      this.assertOpen()
      const url = this.parseMemAddress(address)
      if (options.signal?.aborted) {
        return Promise.reject(new TransportError('CONNECTION_CLOSED', 'dial aborted', { address: url }))
      }
      return this.network.dial(this, url, options)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  send(peer: NodeId, bytes: Uint8Array): SendResult {
    if (!this.isOpen) {
      return {
        ok: false,
        error: new TransportError('TRANSPORT_CLOSED', 'transport is closed', { peer: peer.hex }),
      }
    }
    const connection = this.connections.get(peer.hex)
    if (connection === undefined) {
      return {
        ok: false,
        error: new TransportError('PEER_UNREACHABLE', `no connection to ${peer.toShortString()}`, {
          peer: peer.hex,
        }),
      }
    }
    const frameBytesMax = this.network.options.frameBytesMax
    if (bytes.length > frameBytesMax) {
      return {
        ok: false,
        error: new TransportError(
          'FRAME_TOO_LARGE',
          `message of ${bytes.length} bytes exceeds frameBytesMax`,
          {
            peer: peer.hex,
            bytes: bytes.length,
            frameBytesMax,
          },
        ),
      }
    }
    const lane = this.laneTo(connection.other(this))
    if (lane.inflight >= this.network.options.sendQueueMessagesMax) {
      lane.waitingForDrain = true
      this.network.countBackpressure()
      return {
        ok: false,
        error: new TransportError('BACKPRESSURE', `send queue to ${peer.toShortString()} is full`, {
          peer: peer.hex,
          sendQueueMessagesMax: this.network.options.sendQueueMessagesMax,
        }),
      }
    }
    this.network.transmit(this, connection, lane, bytes)
    return SEND_OK
  }

  connectedPeers(): readonly NodeId[] {
    return [...this.connections.values()].map((connection) => connection.other(this).localId)
  }

  hangUp(peer: NodeId): Promise<void> {
    const connection = this.connections.get(peer.hex)
    if (connection !== undefined && this.isOpen) this.network.leave(this, connection, undefined, true)
    return Promise.resolve()
  }

  close(): Promise<void> {
    if (!this.isOpen) return Promise.resolve()
    for (const connection of [...this.connections.values()])
      this.network.leave(this, connection, undefined, true)
    for (const address of this.addresses) this.network.unbindAddress(address, this)
    this.addresses.length = 0
    this.closed = true
    return Promise.resolve()
  }

  /** @internal Called by the network when this node crashes: no events, nothing more sent. */
  markCrashed(): void {
    this.crashed = true
    for (const address of this.addresses) this.network.unbindAddress(address, this)
    this.addresses.length = 0
  }

  /** @internal */
  laneTo(peer: SimTransport): Lane {
    let lane = this.lanes.get(peer.localId.hex)
    if (lane === undefined) {
      lane = { lastArrivalMs: 0, inflight: 0, waitingForDrain: false, label: `${this.label}>${peer.label}` }
      this.lanes.set(peer.localId.hex, lane)
    }
    return lane
  }

  /** @internal A message sent on `lane` arrived or was lost: it no longer counts against the queue. */
  release(lane: Lane, peer: NodeId): void {
    assert(lane.inflight > 0, 'released more messages than were in flight')
    lane.inflight--
    const lowWater = Math.floor(this.network.options.sendQueueMessagesMax / 2)
    if (lane.waitingForDrain && lane.inflight <= lowWater) {
      lane.waitingForDrain = false
      if (this.isOpen) this.events.emit('drain', { peer })
    }
  }

  /** @internal */
  joined(connection: SimConnection, direction: ConnectionDirection): boolean {
    const peer = connection.other(this)
    const previous = this.connections.get(peer.localId.hex)
    if (previous === connection) return false
    if (previous !== undefined) {
      // The peer restarted and reconnected before the reset of its old connection arrived.
      this.events.emit('peer:disconnect', {
        peer: peer.localId,
        error: new TransportError('CONNECTION_CLOSED', 'connection replaced by a new one from the same peer'),
      })
    }
    this.connections.set(peer.localId.hex, connection)
    const address = peer.addresses[0] ?? `mem://unlistened-${peer.label}`
    this.events.emit('peer:connect', { peer: peer.localId, address, direction })
    return true
  }

  private assertOpen(): void {
    if (!this.isOpen)
      throw new TransportError('TRANSPORT_CLOSED', 'transport is closed', { node: this.label })
  }

  private parseMemAddress(address: string): string {
    let parsed
    try {
      parsed = parseAddress(address)
    } catch (cause) {
      throw new TransportError(
        'INVALID_ADDRESS',
        `invalid address ${JSON.stringify(address)}`,
        { address },
        { cause },
      )
    }
    if (parsed.protocol !== 'mem') {
      throw new TransportError('INVALID_ADDRESS', `the simulated network only serves mem:// addresses`, {
        address,
      })
    }
    return parsed.url
  }
}
