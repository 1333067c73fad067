import { randomInt } from 'node:crypto'
import {
  Codec,
  NodeId,
  SeededRandom,
  TransportError,
  noopLogger,
  noopMetrics,
  systemClock,
  toError,
} from '@socketcloud/core'
import type {
  Clock,
  Counter,
  Histogram,
  Logger,
  Metrics,
  Random,
  Signer,
  TimerHandle,
  Transport,
  Verifier,
} from '@socketcloud/core'
import type { Contact } from './core/contact'
import { DhtError } from './core/errors'
import { resolveDhtOptions } from './core/options'
import type { DhtOptions, ResolvedDhtOptions } from './core/options'
import { DhtProtocol } from './core/protocol'
import type { DhtStats, DhtTime, OperationResult, Outgoing } from './core/protocol'
import type { DhtRecord } from './core/record'

/** The seams a DhtNode is given rather than builds. */
export interface DhtComponents {
  /** Carries DHT messages; UDP in the node app. The node dials contacts through it by their advertised addresses. */
  readonly transport: Transport
  /** Checks record signatures (`@socketcloud/security`'s Ed25519Verifier in the node app). */
  readonly verifier: Verifier
  /** Signs records this node puts; without one `put` fails with NO_SIGNER. */
  readonly signer?: Signer
  /** @default systemClock */
  readonly clock?: Clock
  /** Request ids, refresh targets and jitter. @default a SeededRandom seeded from the OS */
  readonly random?: Random
  /** @default noopMetrics */
  readonly metrics?: Metrics
  /** @default noopLogger */
  readonly logger?: Logger
}

export interface DhtInit extends DhtOptions {
  /** Addresses advertised to peers so they can dial back. @default the transport's listen addresses at `start()` */
  readonly advertisedAddresses?: readonly string[]
}

/** What a lookup of a node found. */
export interface FindNodeResult {
  /** The node itself, when it is in the network and answered. */
  readonly found: Contact | undefined
  /** The closest nodes that answered, closest first (at most k). */
  readonly closest: readonly Contact[]
  readonly hops: number
  readonly messages: number
}

export interface GetResult {
  readonly record: DhtRecord | undefined
  readonly hops: number
  readonly messages: number
}

export interface PutOptions {
  /** Lifetime of the record, at most `recordTtlMsMax`. @default 3_600_000 */
  readonly ttlMs?: number
  /** Version number; see `PutRequest.sequence`. */
  readonly sequence?: number
}

export interface PutResult {
  readonly record: DhtRecord
  /** Nodes among the k closest that acknowledged the STORE. */
  readonly storedCount: number
}

export interface BootstrapOptions {
  /**
   * After the lookup of our own id, refresh every bucket up to the deepest, as the paper prescribes.
   * Turning it off makes joining cheaper; the periodic refresh fills the far buckets later. @default true
   */
  readonly refreshBuckets?: boolean
}

export interface BootstrapResult {
  /** Seeds that answered the dial. */
  readonly seedsReached: number
  /** Contacts in the routing table afterwards. */
  readonly contacts: number
}

interface Waiter {
  resolve(result: OperationResult): void
  reject(error: Error): void
}

interface DhtMetrics {
  refused: Counter
  requestsSent: Counter
  requestsFailed: Counter
  lookupHops: Histogram
  lookupMessages: Histogram
}

const DEFAULT_TTL_MS = 3_600_000
/** Messages held for one peer while it is being dialled; more are failed at once. */
const DIAL_QUEUE_MESSAGES_MAX = 64

/**
 * A Kademlia node: binds the pure `DhtProtocol` to a Transport and a Clock. It decodes nothing
 * itself; it feeds bytes and time into the protocol, sends what the protocol produced (dialling a
 * contact through its advertised addresses when there is no connection yet), wakes the protocol at
 * its next deadline, and settles the promises of lookups and puts.
 *
 * @example
 * ```ts
 * const dht = new DhtNode({ transport, verifier, signer, clock: systemClock })
 * dht.start()
 * await dht.bootstrap(['udp://10.0.0.1:7000'])
 * const peer = await dht.findPeer(someId) // its contact, with addresses to dial
 * ```
 */
export class DhtNode {
  readonly localId: NodeId
  readonly options: ResolvedDhtOptions
  private readonly transport: Transport
  private readonly clock: Clock
  private readonly logger: Logger
  private readonly metrics: DhtMetrics
  private readonly protocol: DhtProtocol
  private readonly advertised: readonly string[] | undefined
  private readonly waiters = new Map<number, Waiter>()
  private readonly dialQueues = new Map<string, Outgoing[]>()
  /** Peers the transport reported connected: a send to anyone else dials first instead of failing. */
  private readonly connected = new Set<string>()
  private readonly subscriptions: (() => void)[] = []
  private timer: TimerHandle | undefined
  private timerDueMs = Number.POSITIVE_INFINITY
  private flushing = false
  private started = false
  private stopped = false

  constructor(components: DhtComponents, init: DhtInit = {}) {
    this.options = resolveDhtOptions(init)
    this.transport = components.transport
    this.localId = components.transport.localId
    this.clock = components.clock ?? systemClock
    this.logger = (components.logger ?? noopLogger).child({ component: 'dht' })
    this.advertised = init.advertisedAddresses
    const metrics = components.metrics ?? noopMetrics
    this.metrics = {
      refused: metrics.counter({
        name: 'socketcloud_dht_refused_total',
        help: 'DHT inputs refused at the boundary, by reason',
        labelNames: ['reason'],
      }),
      requestsSent: metrics.counter({
        name: 'socketcloud_dht_requests_sent_total',
        help: 'DHT requests sent',
      }),
      requestsFailed: metrics.counter({
        name: 'socketcloud_dht_requests_failed_total',
        help: 'DHT requests that timed out or could not be sent',
      }),
      lookupHops: metrics.histogram({
        name: 'socketcloud_dht_lookup_hops',
        help: 'Hops of finished lookups',
      }),
      lookupMessages: metrics.histogram({
        name: 'socketcloud_dht_lookup_messages',
        help: 'Requests sent by finished lookups',
      }),
    }
    this.protocol = new DhtProtocol({
      localId: this.localId,
      addresses: init.advertisedAddresses ?? [],
      options: this.options,
      codec: new Codec({ envelopeBytesMax: this.options.messageBytesMax }),
      random: components.random ?? new SeededRandom(randomInt(0, 2 ** 32 - 1)),
      verifier: components.verifier,
      ...(components.signer ? { signer: components.signer } : {}),
      time: this.time(),
    })
  }

  /** Starts serving requests on the transport (which must already listen) and the maintenance timer. */
  start(): void {
    if (this.started) return
    this.started = true
    if (!this.advertised) this.protocol.setAddresses(this.transport.listenAddresses())
    for (const peer of this.transport.connectedPeers()) this.connected.add(peer.hex)
    const events = this.transport.events
    this.subscriptions.push(
      events.on('peer:connect', ({ peer }) => this.connected.add(peer.hex)),
      events.on('peer:disconnect', ({ peer }) => this.connected.delete(peer.hex)),
      events.on('message', ({ from, bytes }) => {
        if (this.stopped) return
        this.protocol.receive(from, bytes, this.time())
        this.flush()
      }),
    )
    this.flush()
  }

  /**
   * Joins the network: dials each seed address, looks up our own id (which also makes us known to
   * the nodes around it), then refreshes the buckets farther away. Resolves once all of that ran.
   */
  async bootstrap(
    seedAddresses: readonly string[],
    options: BootstrapOptions = {},
  ): Promise<BootstrapResult> {
    this.assertRunning()
    const dialled = await Promise.all(
      seedAddresses.map(async (address) => {
        try {
          return { id: await this.transport.dial(address), address }
        } catch (thrown) {
          this.logger.warn({ address, error: toError(thrown).message }, 'seed unreachable')
          return undefined
        }
      }),
    )
    let seedsReached = 0
    for (const seed of dialled) {
      if (!seed || seed.id.equals(this.localId)) continue
      seedsReached++
      this.protocol.addContact({ id: seed.id, addresses: [seed.address] }, this.time())
    }
    this.flush()
    if (seedAddresses.length > 0 && seedsReached === 0) {
      throw new DhtError('BOOTSTRAP_FAILED', 'no seed could be reached', { seeds: seedAddresses.length })
    }
    await this.findNode(this.localId)
    if (options.refreshBuckets !== false) {
      const ids = this.protocol.refreshAll(this.time())
      const done = ids.map((id) => this.waitFor(id))
      this.flush()
      await Promise.all(done)
    }
    return { seedsReached, contacts: this.protocol.table.size }
  }

  /** Iterative FIND_NODE for `target`; `found` is set when the node itself answered. */
  async findNode(target: NodeId | Uint8Array): Promise<FindNodeResult> {
    this.assertRunning()
    const bytes = target instanceof NodeId ? target.bytes : target
    const result = await this.run(() => this.protocol.findNode(bytes, this.time()))
    const first = result.closest[0]
    const found = first && bytesEqualId(first.id, bytes) ? first : undefined
    return { found, closest: result.closest, hops: result.hops, messages: result.messages }
  }

  /** The contact (with dialable addresses) of `id`, if it is in the network. */
  async findPeer(id: NodeId): Promise<Contact | undefined> {
    if (id.equals(this.localId)) return { id, addresses: this.transport.listenAddresses() }
    return (await this.findNode(id)).found
  }

  /** Fetches the newest valid record under `key` (32 bytes). */
  async get(key: Uint8Array): Promise<GetResult> {
    this.assertRunning()
    const result = await this.run(() => this.protocol.findValue(key, this.time()))
    return { record: result.record, hops: result.hops, messages: result.messages }
  }

  /** Signs `value` under `key` (32 bytes) and stores it at the k closest nodes; republished until it expires. */
  async put(key: Uint8Array, value: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    this.assertRunning()
    let record: DhtRecord | undefined
    const result = await this.run(() => {
      const id = this.protocol.put(
        {
          key,
          value,
          ttlMs: options.ttlMs ?? DEFAULT_TTL_MS,
          ...(options.sequence === undefined ? {} : { sequence: options.sequence }),
        },
        this.time(),
      )
      record = this.protocol.records.get(key, this.clock.wallNow())
      return id
    })
    if (!record) throw new DhtError('RECORD_REFUSED', 'record expired before it was stored', {})
    return { record, storedCount: result.storedCount ?? 0 }
  }

  /**
   * Adds peers known from elsewhere (configuration, a saved table) to the routing table without
   * asking them: they take free bucket slots like any contact and are dropped if they fail requests.
   */
  addContacts(contacts: readonly Contact[]): void {
    this.assertRunning()
    const time = this.time()
    for (const contact of contacts) this.protocol.addContact(contact, time)
    this.flush()
  }

  /** Contacts in the routing table. */
  contacts(): Contact[] {
    return this.protocol.table.contacts()
  }

  get routingTableSize(): number {
    return this.protocol.table.size
  }

  get recordCount(): number {
    return this.protocol.records.size
  }

  /** Counters since start: requests, matched replies, failures and refusals by reason. */
  get stats(): Readonly<DhtStats> {
    return this.protocol.stats
  }

  /** Stops serving: unsubscribes, cancels the timer and rejects running lookups with STOPPED. The transport stays the caller's. */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    for (const unsubscribe of this.subscriptions.splice(0)) unsubscribe()
    this.timer?.cancel()
    this.timer = undefined
    const error = new DhtError('STOPPED', 'the DHT node stopped')
    for (const waiter of this.waiters.values()) waiter.reject(error)
    this.waiters.clear()
  }

  // internals ------------------------------------------------------------------------------------

  private time(): DhtTime {
    return { nowMs: this.clock.now(), wallMs: this.clock.wallNow() }
  }

  private assertRunning(): void {
    if (!this.started || this.stopped) {
      throw new DhtError('STOPPED', this.stopped ? 'the DHT node stopped' : 'call start() first')
    }
  }

  private run(start: () => number): Promise<OperationResult> {
    const id = start()
    const done = this.waitFor(id)
    this.flush()
    return done
  }

  private waitFor(operationId: number): Promise<OperationResult> {
    return new Promise<OperationResult>((resolve, reject) =>
      this.waiters.set(operationId, { resolve, reject }),
    )
  }

  /** Executes everything the protocol produced, until it produces nothing more, then re-arms the timer. */
  private flush(): void {
    if (this.flushing) return
    this.flushing = true
    try {
      for (;;) {
        const output = this.protocol.takeOutput()
        if (
          output.sends.length === 0 &&
          output.completed.length === 0 &&
          output.refused.length === 0 &&
          output.dropped.length === 0
        ) {
          break
        }
        // A contact dropped for failing is hung up on, so a transport that re-dials silent peers
        // (UDP's outbound intents) stops chasing it.
        for (const peer of output.dropped) {
          if (this.dialQueues.has(peer.hex)) continue
          this.transport.hangUp(peer).catch((error: unknown) => {
            this.logger.debug({ peer: peer.hex, error: toError(error).message }, 'hang up failed')
          })
        }
        for (const refusal of output.refused) {
          this.metrics.refused.inc({ reason: refusal.reason })
          this.logger.debug(
            { reason: refusal.reason, peer: refusal.peer.hex, detail: refusal.detail },
            'refused',
          )
        }
        for (const outgoing of output.sends) this.deliver(outgoing)
        for (const result of output.completed) {
          this.metrics.lookupHops.observe({ kind: result.kind }, result.hops)
          this.metrics.lookupMessages.observe({ kind: result.kind }, result.messages)
          const waiter = this.waiters.get(result.operationId)
          if (!waiter) continue
          this.waiters.delete(result.operationId)
          waiter.resolve(result)
        }
      }
    } finally {
      this.flushing = false
    }
    this.armTimer()
  }

  private deliver(outgoing: Outgoing): void {
    if (outgoing.requestId !== undefined) this.metrics.requestsSent.inc()
    const queued = this.dialQueues.get(outgoing.to.id.hex)
    if (queued) {
      if (queued.length < DIAL_QUEUE_MESSAGES_MAX) queued.push(outgoing)
      else this.failSend(outgoing, new TransportError('BACKPRESSURE', 'dial queue full'))
      return
    }
    const hex = outgoing.to.id.hex
    const result = this.connected.has(hex) ? this.transport.send(outgoing.to.id, outgoing.bytes) : undefined
    if (result?.ok) return
    if ((!result || result.error.code === 'PEER_UNREACHABLE') && outgoing.to.addresses.length > 0) {
      this.dialQueues.set(hex, [outgoing])
      this.dial(outgoing.to).then(
        () => this.afterDial(outgoing.to, undefined),
        (error: unknown) => this.afterDial(outgoing.to, toError(error)),
      )
      return
    }
    this.failSend(outgoing, result?.error ?? new TransportError('PEER_UNREACHABLE', 'no address to dial'))
  }

  /**
   * Tries the contact's addresses in order. Each attempt is bounded by the transport's own dial or
   * handshake timeout (the simulator's dialTimeoutMs, UDP's handshakeTimeoutMs).
   */
  private async dial(contact: Contact): Promise<void> {
    let lastError: Error | undefined
    for (const address of contact.addresses) {
      if (this.stopped) break
      try {
        await this.transport.dial(address, { expectedPeer: contact.id })
        return
      } catch (thrown) {
        lastError = toError(thrown)
      }
    }
    throw lastError ?? new DhtError('STOPPED', 'the DHT node stopped')
  }

  private afterDial(contact: Contact, error: Error | undefined): void {
    const queued = this.dialQueues.get(contact.id.hex) ?? []
    this.dialQueues.delete(contact.id.hex)
    if (this.stopped) return
    for (const outgoing of queued) {
      if (error) {
        this.failSend(outgoing, error)
        continue
      }
      const result = this.transport.send(contact.id, outgoing.bytes)
      if (!result.ok) this.failSend(outgoing, result.error)
    }
    this.flush()
  }

  private failSend(outgoing: Outgoing, error: Error): void {
    this.logger.trace({ peer: outgoing.to.id.hex, error: error.message }, 'send failed')
    if (outgoing.requestId === undefined) return
    this.metrics.requestsFailed.inc()
    this.protocol.requestFailed(outgoing.requestId, this.time())
  }

  private armTimer(): void {
    if (this.stopped || !this.started) return
    const due = this.protocol.nextDeadlineMs()
    if (this.timer && this.timerDueMs <= due) return
    this.timer?.cancel()
    this.timerDueMs = due
    this.timer = this.clock.setTimer(Math.max(0, due - this.clock.now()), () => {
      this.timer = undefined
      this.timerDueMs = Number.POSITIVE_INFINITY
      if (this.stopped) return
      this.protocol.tick(this.time())
      this.flush()
    })
  }
}

function bytesEqualId(id: NodeId, bytes: Uint8Array): boolean {
  const own = id.bytes
  if (own.length !== bytes.length) return false
  for (let i = 0; i < own.length; i++) if (own[i] !== bytes[i]) return false
  return true
}
