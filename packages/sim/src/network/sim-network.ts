import { TransportError, assert } from '@socketcloud/core'
import type { DialOptions, NodeId } from '@socketcloud/core'
import type { SimRandom } from '../random'
import type { Simulation } from '../simulation'
import {
  DEFAULT_FAULTS,
  resolveFaults,
  resolveNetworkOptions,
  type NetworkFaults,
  type NetworkStats,
  type ResolvedFaults,
  type ResolvedNetworkOptions,
  type SimNetworkOptions,
} from './options'
import { SimConnection, SimTransport, type Lane } from './sim-transport'

/**
 * A simulated network of SimTransport endpoints, on the simulation's virtual time.
 *
 * Messages on one connection arrive in send order (each one after `latencyMs` plus up to `jitterMs`,
 * never before the previous one), unless a fault drawn from the seed says otherwise: drop, duplicate,
 * or reorder (skip the order and arrive up to `reorderDelayMsMax` later). Partitions of any shape
 * (`partition`, `isolate`, `blockOneWay`) lose every message that would cross them, including those
 * already in flight when they begin; connections stay up, as TCP connections do until something
 * times out. `crash(id)` kills an endpoint; its peers see the connection reset one latency later.
 * Every fault is noted in the simulation trace.
 */
export class SimNetwork {
  readonly options: ResolvedNetworkOptions
  private faults: ResolvedFaults
  private readonly random: SimRandom
  private readonly transports = new Map<string, SimTransport>()
  private readonly incarnations = new Map<string, number>()
  private readonly addressBook = new Map<string, SimTransport>()
  private readonly pairs = new Map<string, SimConnection>()
  private readonly counters: NetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    backpressured: 0,
  }
  private groupOf: Map<string, number> | null = null
  private readonly isolated = new Set<string>()
  private readonly oneWayBlocks = new Set<string>()
  private readonly linkFaults = new Map<string, ResolvedFaults>()
  private nextConnectionId = 1

  constructor(
    readonly sim: Simulation,
    options: SimNetworkOptions = {},
  ) {
    this.options = resolveNetworkOptions(options)
    this.faults = resolveFaults(options, DEFAULT_FAULTS)
    this.random = sim.random.fork()
  }

  /** The live endpoint of `id`, created on first use (and after a crash, as a restart). */
  endpoint(id: NodeId): SimTransport {
    const existing = this.transports.get(id.hex)
    if (existing !== undefined && !existing.isCrashed) return existing
    const incarnation = existing === undefined ? 0 : (this.incarnations.get(id.hex) ?? 0) + 1
    this.incarnations.set(id.hex, incarnation)
    const transport = new SimTransport(id, incarnation, this)
    this.transports.set(id.hex, transport)
    if (incarnation > 0) this.sim.note(`net.restart ${transport.label}#${incarnation}`)
    return transport
  }

  /** Kills `id`'s endpoint: it emits nothing more, and each peer sees a reset one latency later. */
  crash(id: NodeId): void {
    const transport = this.transports.get(id.hex)
    assert(transport !== undefined, `crash of unknown endpoint ${id.toShortString()}`)
    if (transport.isCrashed) return
    this.sim.note(`net.crash ${transport.label}`)
    transport.markCrashed()
    // Every connection the endpoint is part of, also those its peer accepted but it never joined (a
    // dial whose answer a partition lost): left behind, a peer would hold it forever, and a dial from
    // the restarted endpoint would be answered with it.
    const connections = new Set(transport.connections.values())
    for (const connection of this.pairs.values()) {
      if (connection.a === transport || connection.b === transport) connections.add(connection)
    }
    for (const connection of connections) {
      const error = new TransportError('CONNECTION_CLOSED', 'connection reset: peer crashed', {
        peer: transport.localId.hex,
      })
      this.leave(transport, connection, error, false)
    }
  }

  /** A fresh endpoint for a crashed `id` (no listeners, no connections). */
  restart(id: NodeId): SimTransport {
    const transport = this.transports.get(id.hex)
    assert(
      transport !== undefined && transport.isCrashed,
      `restart of ${id.toShortString()}, which is not crashed`,
    )
    return this.endpoint(id)
  }

  /** Splits the network: only nodes in the same group reach each other. Unlisted nodes form one more group. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    const groupOf = new Map<string, number>()
    groups.forEach((group, index) => {
      for (const id of group) {
        assert(!groupOf.has(id.hex), `node ${id.toShortString()} is in two partition groups`)
        groupOf.set(id.hex, index)
      }
    })
    this.groupOf = groupOf
    this.sim.note(
      `net.partition ${groups.map((group) => group.map((id) => id.toShortString()).join(',')).join('|')}`,
    )
  }

  /** Cuts `id` off from every other node in both directions. */
  isolate(id: NodeId): void {
    this.isolated.add(id.hex)
    this.sim.note(`net.isolate ${id.toShortString()}`)
  }

  /** Loses every message from `from` to `to`; the other direction still works. */
  blockOneWay(from: NodeId, to: NodeId): void {
    this.oneWayBlocks.add(`${from.hex}>${to.hex}`)
    this.sim.note(`net.block ${from.toShortString()}>${to.toShortString()}`)
  }

  /** Removes every partition, isolation and one-way block. */
  heal(): void {
    this.groupOf = null
    this.isolated.clear()
    this.oneWayBlocks.clear()
    this.sim.note('net.heal')
  }

  /** Whether a message from `from` to `to` would cross no partition right now. */
  isReachable(from: NodeId, to: NodeId): boolean {
    return this.reachable(from.hex, to.hex)
  }

  /** Changes the faults for messages sent from now on. */
  setFaults(faults: NetworkFaults): void {
    this.faults = resolveFaults(faults, this.faults)
    const f = this.faults
    this.sim.note(
      `net.faults latency=${f.latencyMs} jitter=${f.jitterMs} drop=${f.dropRate} dup=${f.duplicateRate} reorder=${f.reorderRate}`,
    )
  }

  /**
   * Overrides the faults of the one-way link `from` → `to` (a slow or lossy link); unset fields fall
   * back to the network-wide faults of the moment. `null` removes the override.
   */
  setLinkFaults(from: NodeId, to: NodeId, faults: NetworkFaults | null): void {
    const key = `${from.hex}>${to.hex}`
    if (faults === null) this.linkFaults.delete(key)
    else this.linkFaults.set(key, resolveFaults(faults, this.faults))
    this.sim.note(
      `net.link ${from.toShortString()}>${to.toShortString()} ${faults === null ? 'reset' : 'set'}`,
    )
  }

  get currentFaults(): Readonly<ResolvedFaults> {
    return { ...this.faults }
  }

  get stats(): Readonly<NetworkStats> {
    return { ...this.counters }
  }

  /** @internal */
  bindAddress(url: string, transport: SimTransport): void {
    const holder = this.addressBook.get(url)
    if (holder !== undefined && holder !== transport && holder.isOpen) {
      throw new TransportError('INVALID_ADDRESS', `address ${url} is already in use`, { address: url })
    }
    this.addressBook.set(url, transport)
  }

  /** @internal */
  unbindAddress(url: string, transport: SimTransport): void {
    if (this.addressBook.get(url) === transport) this.addressBook.delete(url)
  }

  /** @internal */
  countBackpressure(): void {
    this.counters.backpressured++
  }

  /** @internal Connects `dialer` to the endpoint listening on `url`: one round trip on virtual time. */
  dial(dialer: SimTransport, url: string, options: DialOptions): Promise<NodeId> {
    const target = this.addressBook.get(url)
    if (target !== undefined && dialer.connections.has(target.localId.hex)) {
      const existing = target.localId
      if (options.expectedPeer !== undefined && !options.expectedPeer.equals(existing)) {
        return Promise.reject(this.mismatch(url, options.expectedPeer, existing))
      }
      return Promise.resolve(existing)
    }
    return new Promise<NodeId>((resolve, reject) => {
      let settled = false
      const settle = (outcome: { peer: NodeId } | { error: TransportError }): void => {
        if (settled) return
        settled = true
        timeout.cancel()
        options.signal?.removeEventListener('abort', onAbort)
        if ('peer' in outcome) resolve(outcome.peer)
        else reject(outcome.error)
      }
      const onAbort = (): void =>
        settle({ error: new TransportError('CONNECTION_CLOSED', 'dial aborted', { address: url }) })
      options.signal?.addEventListener('abort', onAbort)
      const timeout = this.sim.schedule(
        this.options.dialTimeoutMs,
        `dial.timeout ${dialer.label}>${url}`,
        () =>
          settle({
            error: new TransportError('PEER_UNREACHABLE', `dial to ${url} timed out`, {
              address: url,
              dialTimeoutMs: this.options.dialTimeoutMs,
            }),
          }),
      )
      this.sim.schedule(this.faults.latencyMs, `dial.syn ${dialer.label}>${url}`, () => {
        if (settled || !dialer.isOpen) return
        const listener = this.addressBook.get(url)
        if (listener === undefined || !listener.isOpen) {
          this.sim.schedule(this.faults.latencyMs, `dial.refused ${dialer.label}>${url}`, () =>
            settle({
              error: new TransportError('CONNECTION_REFUSED', `nothing listens on ${url}`, { address: url }),
            }),
          )
          return
        }
        if (listener.localId.equals(dialer.localId)) {
          settle({
            error: new TransportError('CONNECTION_REFUSED', `${url} is this node itself`, { address: url }),
          })
          return
        }
        if (!this.reachable(dialer.localId.hex, listener.localId.hex)) return
        if (options.expectedPeer !== undefined && !options.expectedPeer.equals(listener.localId)) {
          const error = this.mismatch(url, options.expectedPeer, listener.localId)
          this.sim.schedule(this.faults.latencyMs, `dial.mismatch ${dialer.label}>${url}`, () =>
            settle({ error }),
          )
          return
        }
        const connection = this.accept(dialer, listener, url)
        if (connection === undefined) {
          this.sim.schedule(this.faults.latencyMs, `dial.refused ${dialer.label}>${url}`, () =>
            settle({
              error: new TransportError('CONNECTION_REFUSED', `${url} refused the connection`, {
                address: url,
              }),
            }),
          )
          return
        }
        this.sendControl(listener, dialer, 'ack', () => {
          const alreadyJoined = dialer.connections.get(listener.localId.hex) === connection
          if (settled || !dialer.isOpen) {
            // The dial was given up (timeout, abort) or the dialer died while the answer travelled:
            // close the half-open connection so the listener does not keep it forever.
            if (!alreadyJoined && this.pairIsCurrent(connection))
              this.leave(dialer, connection, undefined, false)
            return
          }
          if (!this.pairIsCurrent(connection)) {
            settle({
              error: new TransportError('CONNECTION_CLOSED', `connection to ${url} closed during dial`),
            })
            return
          }
          dialer.joined(connection, 'outbound')
          settle({ peer: listener.localId })
        })
      })
    })
  }

  /** @internal Puts one data message on the wire, drawing its faults from the seed. */
  transmit(sender: SimTransport, connection: SimConnection, lane: Lane, bytes: Uint8Array): void {
    const receiver = connection.other(sender)
    const faults = this.faultsOf(sender, receiver)
    this.counters.sent++
    lane.inflight++
    const dropped = this.random.chance(faults.dropRate)
    const reordered = !dropped && this.random.chance(faults.reorderRate)
    const duplicated = !dropped && this.random.chance(faults.duplicateRate)
    let arrivalMs = this.sim.now + this.delay(faults)
    if (dropped) {
      this.sim.note(`net.drop ${lane.label}`)
    } else if (reordered) {
      this.counters.reordered++
      arrivalMs += this.random.between(0, faults.reorderDelayMsMax)
      this.sim.note(`net.reorder ${lane.label}`)
    } else {
      arrivalMs = Math.max(arrivalMs, lane.lastArrivalMs)
      lane.lastArrivalMs = arrivalMs
    }
    this.sim.scheduleAt(arrivalMs, lane.label, () => {
      sender.release(lane, receiver.localId)
      if (dropped) {
        this.counters.dropped++
        return
      }
      this.deliver(sender, receiver, connection, lane, bytes)
    })
    if (duplicated) {
      this.counters.duplicated++
      this.sim.note(`net.duplicate ${lane.label}`)
      const copy = bytes.slice()
      const duplicateMs = this.sim.now + this.delay(faults) + this.random.between(0, faults.reorderDelayMsMax)
      this.sim.scheduleAt(duplicateMs, `${lane.label} dup`, () =>
        this.deliver(sender, receiver, connection, lane, copy),
      )
    }
  }

  /**
   * @internal `side` leaves `connection`: it forgets the peer now (emitting `peer:disconnect` unless it
   * crashed) and the peer learns one latency later, after every message `side` sent before leaving.
   */
  leave(
    side: SimTransport,
    connection: SimConnection,
    error: TransportError | undefined,
    emitLocally: boolean,
  ): void {
    const peer = connection.other(side)
    if (side.connections.get(peer.localId.hex) === connection) {
      side.connections.delete(peer.localId.hex)
      if (emitLocally && side.isOpen) side.events.emit('peer:disconnect', { peer: peer.localId })
    }
    const key = this.pairKey(side, peer)
    if (this.pairs.get(key) === connection) this.pairs.delete(key)
    // A crash resets the peer's connection even across a partition: otherwise it would hold a dead
    // connection forever, and a restarted node could never be dialled again.
    this.sendControl(
      side,
      peer,
      error === undefined ? 'fin' : 'rst',
      () => {
        if (peer.connections.get(side.localId.hex) !== connection) return
        peer.connections.delete(side.localId.hex)
        if (peer.isOpen)
          peer.events.emit(
            'peer:disconnect',
            error === undefined ? { peer: side.localId } : { peer: side.localId, error },
          )
      },
      error !== undefined,
    )
  }

  private accept(dialer: SimTransport, listener: SimTransport, url: string): SimConnection | undefined {
    const key = this.pairKey(dialer, listener)
    let connection = this.pairs.get(key)
    assert(
      connection === undefined ||
        (connection.other(dialer) === listener && connection.other(listener) === dialer),
      `connection ${connection?.id} outlived an endpoint of ${dialer.label}|${listener.label}`,
    )
    if (connection === undefined) {
      if (listener.connections.size >= this.options.connectionsMax) {
        const error = new TransportError(
          'CONNECTIONS_EXHAUSTED',
          `refused ${dialer.label}: connectionsMax reached`,
          {
            peer: dialer.localId.hex,
            connectionsMax: this.options.connectionsMax,
          },
        )
        listener.events.emit('error', { error, peer: dialer.localId, address: url })
        return undefined
      }
      connection = new SimConnection(this.nextConnectionId++, dialer, listener)
      this.pairs.set(key, connection)
    }
    listener.joined(connection, 'inbound')
    return connection
  }

  private deliver(
    sender: SimTransport,
    receiver: SimTransport,
    connection: SimConnection,
    lane: Lane,
    bytes: Uint8Array,
  ): void {
    if (!this.reachable(sender.localId.hex, receiver.localId.hex)) {
      this.counters.dropped++
      this.sim.note(`net.drop.partition ${lane.label}`)
      return
    }
    if (!receiver.isOpen || receiver.connections.get(sender.localId.hex) !== connection) {
      this.counters.dropped++
      this.sim.note(`net.drop.closed ${lane.label}`)
      return
    }
    this.counters.delivered++
    receiver.events.emit('message', { from: sender.localId, bytes })
  }

  /** Connection management frames: never dropped by chance, kept in order with data on the lane. */
  private sendControl(
    from: SimTransport,
    to: SimTransport,
    kind: string,
    onArrival: () => void,
    ignorePartition = false,
  ): void {
    const lane = from.laneTo(to)
    const arrivalMs = Math.max(this.sim.now + this.delay(this.faultsOf(from, to)), lane.lastArrivalMs)
    lane.lastArrivalMs = arrivalMs
    this.sim.scheduleAt(arrivalMs, `${lane.label} ${kind}`, () => {
      if (!ignorePartition && !this.reachable(from.localId.hex, to.localId.hex)) {
        this.sim.note(`net.drop.partition ${lane.label} ${kind}`)
        return
      }
      onArrival()
    })
  }

  private pairIsCurrent(connection: SimConnection): boolean {
    return this.pairs.get(this.pairKey(connection.a, connection.b)) === connection
  }

  private faultsOf(from: SimTransport, to: SimTransport): ResolvedFaults {
    if (this.linkFaults.size === 0) return this.faults
    return this.linkFaults.get(`${from.localId.hex}>${to.localId.hex}`) ?? this.faults
  }

  private delay(faults: ResolvedFaults): number {
    const { latencyMs, jitterMs } = faults
    return jitterMs > 0 ? latencyMs + this.random.between(0, jitterMs) : latencyMs
  }

  private reachable(fromHex: string, toHex: string): boolean {
    if (fromHex === toHex) return true
    if (this.isolated.size > 0 && (this.isolated.has(fromHex) || this.isolated.has(toHex))) return false
    if (this.groupOf !== null && (this.groupOf.get(fromHex) ?? -1) !== (this.groupOf.get(toHex) ?? -1))
      return false
    if (this.oneWayBlocks.size > 0 && this.oneWayBlocks.has(`${fromHex}>${toHex}`)) return false
    return true
  }

  private pairKey(a: SimTransport, b: SimTransport): string {
    const ah = a.localId.hex
    const bh = b.localId.hex
    return ah < bh ? `${ah}|${bh}` : `${bh}|${ah}`
  }

  private mismatch(url: string, expected: NodeId, actual: NodeId): TransportError {
    return new TransportError(
      'PEER_ID_MISMATCH',
      `${url} is ${actual.toShortString()}, not ${expected.toShortString()}`,
      {
        address: url,
        expected: expected.hex,
        actual: actual.hex,
      },
    )
  }
}
