import { DecodeError, LimitExceededError, NODE_ID_BYTES, assert, bytesEqual } from '@socketcloud/core'
import type { Codec, NodeId, Random, Signer, Verifier } from '@socketcloud/core'
import type { Contact } from './contact'
import { randomIdInBucket } from './distance'
import { DhtError } from './errors'
import { Lookup } from './lookup'
import type { LookupRequest } from './lookup'
import { EXPECTED_REPLIES, REQUEST_ID_MAX, decodeDhtMessage, encodeDhtMessage, isRequest } from './messages'
import type { DhtMessage, DhtReply, DhtRequest, MessageLimits } from './messages'
import type { ResolvedDhtOptions } from './options'
import { PeerRateLimiter } from './rate-limiter'
import { RECORD_KEY_BYTES, recordKeyHex, signRecord, verifyRecord } from './record'
import type { DhtRecord } from './record'
import { RecordStore } from './record-store'
import { RoutingTable } from './routing-table'
import { NodeIdCache } from './node-id-cache'

/** Ids a node remembers for reuse when decoding replies (a few hundred KB at most). */
const NODE_ID_CACHE_ENTRIES_MAX = 4096
/** Timed-out request ids remembered to classify late answers (not to accept them). */
const EXPIRED_REQUESTS_REMEMBERED_MAX = 1024

/** Time as the driver sees it: monotonic for timeouts and intervals, wall clock for record expiry. */
export interface DhtTime {
  readonly nowMs: number
  readonly wallMs: number
}

/** One message to send. `requestId` is set for requests: report a failed send with `requestFailed`. */
export interface Outgoing {
  readonly to: Contact
  readonly bytes: Uint8Array
  readonly requestId?: number
}

export type RefusalReason =
  | 'MALFORMED'
  | 'OVERSIZED'
  | 'UNKNOWN_TYPE'
  | 'SENDER_MISMATCH'
  | 'UNSOLICITED'
  | 'LATE'
  | 'RATE_LIMITED'
  | 'BAD_SIGNATURE'
  | 'BAD_RECORD'
  | 'NOT_OWNER'
  | 'STALE'
  | 'EXPIRED'
  | 'RECORDS_FULL'

/** Something refused at the boundary: counted, never thrown, never allowed to touch the routing table. */
export interface Refusal {
  readonly reason: RefusalReason
  readonly peer: NodeId
  readonly detail: string
}

export type OperationKind = 'find-node' | 'find-value' | 'put' | 'refresh' | 'republish' | 'replicate'

/** A finished lookup (and, for puts, the stores that followed it). */
export interface OperationResult {
  readonly operationId: number
  readonly kind: OperationKind
  readonly target: Uint8Array
  /** The closest nodes that answered, closest first (at most k). */
  readonly closest: readonly Contact[]
  /** find-value: the newest valid record seen. */
  readonly record?: DhtRecord
  /** put, republish, replicate: nodes that acknowledged the STORE. */
  readonly storedCount?: number
  /**
   * Sequential request round trips it took to learn of the closest node (for find-value: to reach the
   * node that served the record). 0 when our own table already had it.
   */
  readonly hops: number
  /** Requests the lookup sent (STOREs excluded). */
  readonly messages: number
}

/** Everything one call produced. The driver sends `sends` in order, then settles `completed`. */
export interface DhtOutput {
  readonly sends: Outgoing[]
  readonly completed: OperationResult[]
  readonly refused: Refusal[]
  /** Contacts dropped from the routing table for failing requests: the driver may hang up on them. */
  readonly dropped: NodeId[]
}

export interface DhtStats {
  requestsSent: number
  requestsReceived: number
  repliesMatched: number
  requestsFailed: number
  refused: Record<RefusalReason, number>
}

/** A request without the fields every request carries (distributes over the union). */
type RequestBody = DhtRequest extends infer R
  ? R extends DhtRequest
    ? Omit<R, 'requestId' | 'addresses'>
    : never
  : never

interface PendingRequest {
  readonly requestId: number
  readonly peer: Contact
  readonly type: DhtRequest['type']
  readonly deadlineMs: number
  readonly purpose: 'lookup' | 'store' | 'evict' | 'ping'
  readonly operationId: number
}

interface Operation {
  readonly id: number
  readonly kind: OperationKind
  readonly target: Uint8Array
  readonly lookup: Lookup
  readonly requestType: 'find-node' | 'find-value'
  phase: 'lookup' | 'store' | 'draining'
  /** put/republish/replicate: the record to store; find-value: the best one found. */
  record: DhtRecord | undefined
  valueHops: number
  closest: Contact[]
  storesPending: number
  storedCount: number
}

export interface DhtProtocolParams {
  readonly localId: NodeId
  readonly addresses: readonly string[]
  readonly options: ResolvedDhtOptions
  readonly codec: Codec
  readonly random: Random
  readonly verifier: Verifier
  readonly signer?: Signer
  readonly time: DhtTime
}

/** What `put` is asked to publish. */
export interface PutRequest {
  readonly key: Uint8Array
  readonly value: Uint8Array
  readonly ttlMs: number
  /** Defaults to one more than this node's last version, and at least the wall clock in ms (survives restarts). */
  readonly sequence?: number
}

/**
 * The whole Kademlia node as a pure, synchronous state machine: routing table, lookups, records,
 * request matching, rate limits, refresh, republish and expiry. It never sends, sleeps or reads a
 * clock: every method takes the time, and every effect (messages to send, operations finished,
 * inputs refused) is collected in an output the driver takes with `takeOutput()`.
 *
 * Inputs are `receive` (bytes from a peer), `tick` (time passed), `addContact` (a seed the driver
 * dialled), `requestFailed` (a send the driver could not deliver) and the operations `findNode`,
 * `findValue` and `put`. A reply is accepted only if it answers a request of ours, from the peer we
 * asked, with a type that request expects; anything else is refused and counted, and only answers
 * and valid requests ever add a peer to the routing table.
 */
export class DhtProtocol {
  readonly localId: NodeId
  readonly table: RoutingTable
  readonly records: RecordStore
  readonly stats: DhtStats
  private addresses: readonly string[]
  private readonly options: ResolvedDhtOptions
  private readonly codec: Codec
  private readonly random: Random
  private readonly verifier: Verifier
  private readonly signer: Signer | undefined
  private readonly limits: MessageLimits
  private readonly rateLimiter: PeerRateLimiter
  private readonly pending = new Map<number, PendingRequest>()
  /** Request deadlines in send order; the timeout is constant, so this is also deadline order. */
  private readonly deadlines: PendingRequest[] = []
  /** Recently timed-out requests (id → peer hex), so a slow answer is told apart from a forged one. */
  private readonly expired = new Map<number, string>()
  private deadlinesHead = 0
  private readonly operations = new Map<number, Operation>()
  private readonly ownRecords = new Map<string, { record: DhtRecord; lastPublishedMs: number }>()
  private nextRequestId: number
  private nextOperationId = 1
  private nextMaintenanceMs: number
  private output: DhtOutput = { sends: [], completed: [], refused: [], dropped: [] }

  constructor(params: DhtProtocolParams) {
    this.localId = params.localId
    this.addresses = [...params.addresses]
    this.options = params.options
    this.codec = params.codec
    this.random = params.random
    this.verifier = params.verifier
    this.signer = params.signer
    const { k, addressesPerContactMax, addressLengthMax, recordValueBytesMax } = params.options
    this.limits = {
      k,
      addressesPerContactMax,
      addressLengthMax,
      recordValueBytesMax,
      ids: new NodeIdCache(NODE_ID_CACHE_ENTRIES_MAX),
    }
    this.table = new RoutingTable(
      params.localId,
      k,
      params.options.replacementCacheSizeMax,
      params.options.contactFailuresMax,
      // Spread the first refresh of every node over one interval, so a network started at once does
      // not refresh all at once.
      params.time.nowMs - this.random.nextFloat() * params.options.refreshIntervalMs,
      params.options.contactFreshMs,
    )
    this.records = new RecordStore(params.options.recordsMax)
    this.rateLimiter = new PeerRateLimiter(
      params.options.requestsPerSecondPerPeerMax,
      params.options.rateLimitedPeersMax,
    )
    this.nextRequestId = this.random.nextUint32()
    this.nextMaintenanceMs = params.time.nowMs + params.options.maintenanceIntervalMs
    this.stats = {
      requestsSent: 0,
      requestsReceived: 0,
      repliesMatched: 0,
      requestsFailed: 0,
      refused: {
        MALFORMED: 0,
        OVERSIZED: 0,
        UNKNOWN_TYPE: 0,
        SENDER_MISMATCH: 0,
        UNSOLICITED: 0,
        LATE: 0,
        RATE_LIMITED: 0,
        BAD_SIGNATURE: 0,
        BAD_RECORD: 0,
        NOT_OWNER: 0,
        STALE: 0,
        EXPIRED: 0,
        RECORDS_FULL: 0,
      },
    }
  }

  /** Takes everything produced since the last call. */
  takeOutput(): DhtOutput {
    const output = this.output
    this.output = { sends: [], completed: [], refused: [], dropped: [] }
    return output
  }

  get inflightRequests(): number {
    return this.pending.size
  }

  get runningOperations(): number {
    return this.operations.size
  }

  /** Addresses this node advertises in its requests (so peers that learn of it can dial it). */
  setAddresses(addresses: readonly string[]): void {
    this.addresses = [...addresses]
  }

  /** The earliest time `tick` has work: a request deadline or the next maintenance round. */
  nextDeadlineMs(): number {
    while (this.deadlinesHead < this.deadlines.length) {
      const head = this.deadlines[this.deadlinesHead]!
      if (this.pending.get(head.requestId) === head) return Math.min(head.deadlineMs, this.nextMaintenanceMs)
      this.deadlinesHead++
    }
    this.compactDeadlines()
    return this.nextMaintenanceMs
  }

  /** Adds a contact the driver reached on its own (a dialled seed). */
  addContact(contact: Contact, time: DhtTime): void {
    if (contact.id.equals(this.localId)) return
    this.observe(contact, time)
  }

  // operations -----------------------------------------------------------------------------------

  findNode(target: Uint8Array, time: DhtTime): number {
    return this.startOperation('find-node', target, undefined, time)
  }

  /** Looks up a record; a live local copy answers at once, with 0 hops and 0 messages. */
  findValue(key: Uint8Array, time: DhtTime): number {
    assert(key.length === RECORD_KEY_BYTES, 'record keys are 32 bytes')
    return this.startOperation('find-value', key, undefined, time)
  }

  /** Signs a new version of a record, keeps it (and republishes it) and stores it at the k closest nodes. */
  put(request: PutRequest, time: DhtTime): number {
    if (!this.signer) throw new DhtError('NO_SIGNER', 'put needs a signer in the DHT components')
    if (!(request.key instanceof Uint8Array) || request.key.length !== RECORD_KEY_BYTES) {
      throw new DecodeError('INVALID_FIELD', `record key must be ${RECORD_KEY_BYTES} bytes`, { field: 'key' })
    }
    if (request.value.length > this.options.recordValueBytesMax) {
      throw new LimitExceededError(
        'recordValueBytesMax',
        request.value.length,
        this.options.recordValueBytesMax,
      )
    }
    if (!(request.ttlMs > 0) || request.ttlMs > this.options.recordTtlMsMax) {
      throw new LimitExceededError('recordTtlMsMax', request.ttlMs, this.options.recordTtlMsMax)
    }
    const keyHex = recordKeyHex(request.key)
    const previous = this.ownRecords.get(keyHex)?.record.sequence ?? 0
    const sequence = request.sequence ?? Math.max(previous + 1, Math.floor(time.wallMs))
    const record = signRecord(this.codec, this.signer, {
      key: Uint8Array.from(request.key),
      value: Uint8Array.from(request.value),
      sequence,
      expiresAtMs: Math.floor(time.wallMs + request.ttlMs),
    })
    const verdict = this.records.put(record, time.nowMs, time.wallMs)
    if (verdict !== 'stored' && verdict !== 'same') {
      throw new DhtError('RECORD_REFUSED', `record refused locally: ${verdict}`, {
        key: keyHex,
        verdict,
        sequence,
      })
    }
    this.ownRecords.set(keyHex, { record, lastPublishedMs: time.nowMs })
    return this.startOperation('put', record.key, record, time)
  }

  /** Starts a refresh lookup of a random id in every bucket up to our deepest one; returns their ids. */
  refreshAll(time: DhtTime): number[] {
    const ids: number[] = []
    for (const bucket of this.table.bucketStates()) {
      if (this.operations.size >= this.options.lookupsMax) break
      ids.push(this.startRefresh(bucket.index, time))
    }
    return ids
  }

  // inputs ---------------------------------------------------------------------------------------

  receive(from: NodeId, bytes: Uint8Array, time: DhtTime): void {
    let decoded: { sender: NodeId; message: DhtMessage }
    try {
      if (bytes.length > this.options.messageBytesMax) {
        throw new DecodeError('OVERSIZED', `message of ${bytes.length} bytes`, {
          max: this.options.messageBytesMax,
        })
      }
      decoded = decodeDhtMessage(this.codec, bytes, this.limits)
    } catch (thrown) {
      if (!(thrown instanceof DecodeError)) throw thrown
      const reason =
        thrown.code === 'OVERSIZED'
          ? 'OVERSIZED'
          : thrown.code === 'UNKNOWN_TYPE'
            ? 'UNKNOWN_TYPE'
            : 'MALFORMED'
      this.refuse(reason, from, thrown.message)
      return
    }
    const { sender, message } = decoded
    if (!sender.equals(from)) {
      this.refuse('SENDER_MISMATCH', from, `envelope claims ${sender.toShortString()}`)
      return
    }
    if (isRequest(message)) this.onRequest(from, message, time)
    else this.onReply(from, message, time)
    this.pumpAll(time)
  }

  /** The driver could not deliver request `requestId` (no route, dial failed, queue full). */
  requestFailed(requestId: number, time: DhtTime): void {
    const request = this.pending.get(requestId)
    if (!request) return
    this.pending.delete(requestId)
    this.failRequest(request, time)
    this.pumpAll(time)
  }

  /** Time passed: expire requests, then, when due, expire records and refresh, republish, replicate. */
  tick(time: DhtTime): void {
    while (this.deadlinesHead < this.deadlines.length) {
      const head = this.deadlines[this.deadlinesHead]!
      if (this.pending.get(head.requestId) === head) {
        if (head.deadlineMs > time.nowMs) break
        this.pending.delete(head.requestId)
        this.expired.set(head.requestId, head.peer.id.hex)
        if (this.expired.size > EXPIRED_REQUESTS_REMEMBERED_MAX) {
          const oldest = this.expired.keys().next()
          if (!oldest.done) this.expired.delete(oldest.value)
        }
        this.failRequest(head, time)
      }
      this.deadlinesHead++
    }
    this.compactDeadlines()
    if (time.nowMs >= this.nextMaintenanceMs) {
      this.nextMaintenanceMs = time.nowMs + this.options.maintenanceIntervalMs
      this.maintain(time)
    }
    this.pumpAll(time)
  }

  // requests from peers ----------------------------------------------------------------------------

  private onRequest(from: NodeId, request: DhtRequest, time: DhtTime): void {
    if (!this.rateLimiter.allow(from.hex, time.nowMs)) {
      this.refuse('RATE_LIMITED', from, `${request.type} over ${this.options.requestsPerSecondPerPeerMax}/s`)
      return
    }
    this.stats.requestsReceived++
    if (this.options.trafficRefreshesBuckets) this.table.markTraffic(from, time.nowMs)
    const requester: Contact = { id: from, addresses: request.addresses }
    // A request proves the sender is alive; only one that can be dialled back belongs in the table.
    if (request.addresses.length > 0) this.observe(requester, time)
    switch (request.type) {
      case 'ping':
        this.reply(requester, { type: 'pong', requestId: request.requestId })
        return
      case 'find-node':
        this.reply(requester, {
          type: 'nodes',
          requestId: request.requestId,
          contacts: this.closestFor(request.target, from),
        })
        return
      case 'find-value': {
        const record = this.records.get(request.key, time.wallMs)
        if (record) this.reply(requester, { type: 'value', requestId: request.requestId, record })
        else
          this.reply(requester, {
            type: 'nodes',
            requestId: request.requestId,
            contacts: this.closestFor(request.key, from),
          })
        return
      }
      case 'store': {
        const verdict = this.acceptRecord(from, request.record, time)
        this.reply(
          requester,
          verdict === 'stored' || verdict === 'same'
            ? { type: 'stored', requestId: request.requestId, ok: true }
            : { type: 'stored', requestId: request.requestId, ok: false, reason: verdict },
        )
        return
      }
    }
  }

  private closestFor(target: Uint8Array, requester: NodeId): Contact[] {
    const contacts = this.table.closest(target, this.options.k + 1)
    const out = contacts.filter((contact) => !contact.id.equals(requester))
    return out.length > this.options.k ? out.slice(0, this.options.k) : out
  }

  /** Validates and stores a record from the network; refusals are counted. */
  private acceptRecord(from: NodeId, record: DhtRecord, time: DhtTime): 'stored' | 'same' | RefusalReason {
    if (record.expiresAtMs > time.wallMs + this.options.recordTtlMsMax) {
      this.refuse('BAD_RECORD', from, 'expiry beyond recordTtlMsMax')
      return 'BAD_RECORD'
    }
    if (record.expiresAtMs <= time.wallMs) {
      this.refuse('EXPIRED', from, 'record already expired')
      return 'EXPIRED'
    }
    if (!verifyRecord(this.codec, this.verifier, record)) {
      this.refuse('BAD_SIGNATURE', from, 'record signature does not verify')
      return 'BAD_SIGNATURE'
    }
    const verdict = this.records.put(record, time.nowMs, time.wallMs)
    if (verdict !== 'stored' && verdict !== 'same') this.refuse(verdict, from, `record ${verdict}`)
    return verdict
  }

  // replies ----------------------------------------------------------------------------------------

  private onReply(from: NodeId, reply: DhtReply, time: DhtTime): void {
    const request = this.pending.get(reply.requestId)
    if (!request && this.expired.get(reply.requestId) === from.hex) {
      this.expired.delete(reply.requestId)
      this.refuse('LATE', from, `${reply.type} #${reply.requestId} arrived after its request timed out`)
      return
    }
    if (!request || !request.peer.id.equals(from) || !EXPECTED_REPLIES[request.type].includes(reply.type)) {
      this.refuse('UNSOLICITED', from, `${reply.type} #${reply.requestId} answers no request to this peer`)
      return
    }
    this.pending.delete(reply.requestId)
    this.stats.repliesMatched++
    if (this.options.trafficRefreshesBuckets) this.table.markTraffic(from, time.nowMs)
    this.observe(request.peer, time)
    switch (request.purpose) {
      case 'evict':
        this.table.evictionPingSettled(from, true, time.nowMs)
        return
      case 'ping':
        return
      case 'store': {
        const operation = this.operations.get(request.operationId)
        if (!operation) return
        operation.storesPending--
        if (reply.type === 'stored' && reply.ok) operation.storedCount++
        this.maybeFinishStores(operation)
        return
      }
      case 'lookup': {
        const operation = this.operations.get(request.operationId)
        if (!operation) return
        if (reply.type === 'value') {
          this.onValue(operation, from, reply.record, time)
          return
        }
        const contacts =
          reply.type === 'nodes' ? reply.contacts.filter((contact) => contact.addresses.length > 0) : []
        operation.lookup.answered(from, contacts)
        return
      }
    }
  }

  private onValue(operation: Operation, from: NodeId, record: DhtRecord, time: DhtTime): void {
    const valid =
      operation.kind === 'find-value' &&
      bytesEqual(record.key, operation.target) &&
      record.expiresAtMs > time.wallMs &&
      verifyRecord(this.codec, this.verifier, record)
    // Answering with a bad record still ends that peer's part in the lookup; it contributes nothing.
    operation.lookup.answered(from, [])
    if (!valid) {
      this.refuse('BAD_SIGNATURE', from, 'served record does not verify or does not match the key')
      return
    }
    if (!operation.record || record.sequence > operation.record.sequence) {
      operation.record = record
      operation.valueHops = (operation.lookup.hopOf(from) ?? 0) + 1
    }
    // Requests already in flight may still bring a newer version: wait for them, send no more.
    operation.phase = 'draining'
  }

  // outgoing requests ------------------------------------------------------------------------------

  private sendRequest(
    peer: Contact,
    body: RequestBody,
    purpose: PendingRequest['purpose'],
    operationId: number,
    time: DhtTime,
  ): boolean {
    if (this.pending.size >= this.options.inflightRequestsMax) return false
    const requestId = this.nextRequestId
    this.nextRequestId = this.nextRequestId >= REQUEST_ID_MAX ? 0 : this.nextRequestId + 1
    const message = { ...body, requestId, addresses: this.addresses } as DhtRequest
    const bytes = encodeDhtMessage(this.codec, this.localId, message)
    const request: PendingRequest = {
      requestId,
      peer,
      type: message.type,
      deadlineMs: time.nowMs + this.options.requestTimeoutMs,
      purpose,
      operationId,
    }
    this.pending.set(requestId, request)
    this.deadlines.push(request)
    this.stats.requestsSent++
    this.output.sends.push({ to: peer, bytes, requestId })
    return true
  }

  private reply(to: Contact, reply: DhtReply): void {
    this.output.sends.push({ to, bytes: encodeDhtMessage(this.codec, this.localId, reply) })
  }

  private failRequest(request: PendingRequest, time: DhtTime): void {
    this.stats.requestsFailed++
    if (request.purpose === 'evict') {
      if (this.table.evictionPingSettled(request.peer.id, false, time.nowMs)) {
        this.output.dropped.push(request.peer.id)
      }
      return
    }
    if (this.table.recordFailure(request.peer.id)) this.output.dropped.push(request.peer.id)
    const operation = this.operations.get(request.operationId)
    if (!operation) return
    if (request.purpose === 'store') {
      operation.storesPending--
      this.maybeFinishStores(operation)
    } else {
      operation.lookup.failed(request.peer.id)
    }
  }

  private observe(contact: Contact, time: DhtTime): void {
    const outcome = this.table.observe(contact, time.nowMs)
    if (outcome.kind === 'cached' && outcome.pingTarget) {
      const sent = this.sendRequest(outcome.pingTarget, { type: 'ping' }, 'evict', 0, time)
      if (!sent) this.table.evictionPingSettled(outcome.pingTarget.id, true, time.nowMs)
    }
  }

  // operations -------------------------------------------------------------------------------------

  private startOperation(
    kind: OperationKind,
    target: Uint8Array,
    record: DhtRecord | undefined,
    time: DhtTime,
  ): number {
    assert(target.length === NODE_ID_BYTES, 'lookup targets are 32 bytes')
    if (this.operations.size >= this.options.lookupsMax) {
      throw new LimitExceededError('lookupsMax', this.operations.size + 1, this.options.lookupsMax)
    }
    const id = this.nextOperationId++
    const lookup = new Lookup(target, this.localId, this.options.k, this.options.alpha, this.options.k * 8)
    const operation: Operation = {
      id,
      kind,
      target,
      lookup,
      requestType: kind === 'find-value' ? 'find-value' : 'find-node',
      phase: 'lookup',
      record,
      valueHops: 0,
      closest: [],
      storesPending: 0,
      storedCount: 0,
    }
    this.operations.set(id, operation)
    if (kind === 'find-value') {
      const local = this.records.get(target, time.wallMs)
      if (local) {
        operation.record = local
        this.complete(operation, 0)
        return id
      }
    }
    lookup.add(this.table.closest(target, this.options.k), 0)
    this.pump(operation, time)
    return id
  }

  private startRefresh(bucketIndex: number, time: DhtTime): number {
    const target = randomIdInBucket(this.localId.bytes, bucketIndex, () => this.random.nextUint32())
    this.table.markLookup(target, time.nowMs)
    return this.startOperation('refresh', target, undefined, time)
  }

  private pumpAll(time: DhtTime): void {
    for (const operation of this.operations.values()) this.pump(operation, time)
  }

  private pump(operation: Operation, time: DhtTime): void {
    if (operation.phase === 'store') return
    const lookup = operation.lookup
    if (operation.phase === 'draining') {
      if (lookup.inflight === 0) this.finishLookup(operation, time)
      return
    }
    if (lookup.isDone()) {
      this.finishLookup(operation, time)
      return
    }
    const room = this.options.inflightRequestsMax - this.pending.size
    if (room <= 0) return
    const requests: LookupRequest[] = lookup.next(room)
    for (const { contact } of requests) {
      const body =
        operation.requestType === 'find-value'
          ? { type: 'find-value' as const, key: operation.target }
          : { type: 'find-node' as const, target: operation.target }
      const sent = this.sendRequest(contact, body, 'lookup', operation.id, time)
      assert(sent, 'room for the request was checked before')
    }
    // With nobody to ask and nothing in flight the lookup has its answer (possibly empty).
    if (lookup.inflight === 0) this.finishLookup(operation, time)
  }

  private finishLookup(operation: Operation, time: DhtTime): void {
    this.table.markLookup(operation.target, time.nowMs)
    operation.closest = operation.lookup.closestAnswered()
    if (operation.kind === 'put' || operation.kind === 'republish' || operation.kind === 'replicate') {
      const record = operation.record
      assert(record !== undefined, 'a store operation carries its record')
      operation.phase = 'store'
      for (const contact of operation.closest) {
        if (this.sendRequest(contact, { type: 'store', record }, 'store', operation.id, time)) {
          operation.storesPending++
        }
      }
      this.maybeFinishStores(operation)
      return
    }
    const first = operation.closest[0]
    const hops =
      operation.kind === 'find-value' && operation.record
        ? operation.valueHops
        : first
          ? (operation.lookup.hopOf(first.id) ?? 0)
          : 0
    this.complete(operation, hops)
  }

  private maybeFinishStores(operation: Operation): void {
    if (operation.phase !== 'store' || operation.storesPending > 0) return
    const first = operation.closest[0]
    this.complete(operation, first ? (operation.lookup.hopOf(first.id) ?? 0) : 0)
  }

  private complete(operation: Operation, hops: number): void {
    this.operations.delete(operation.id)
    const result: OperationResult = {
      operationId: operation.id,
      kind: operation.kind,
      target: operation.target,
      closest: operation.closest,
      hops,
      messages: operation.lookup.messages,
      ...(operation.kind === 'find-value' && operation.record ? { record: operation.record } : {}),
      ...(operation.phase === 'store' ? { storedCount: operation.storedCount } : {}),
    }
    this.output.completed.push(result)
  }

  // maintenance ------------------------------------------------------------------------------------

  private maintain(time: DhtTime): void {
    this.records.expire(time.wallMs)
    if (this.table.size > 0) {
      const due = time.nowMs - this.options.refreshIntervalMs
      for (const bucket of this.table.refreshStates()) {
        if (bucket.lastActiveMs > due) continue
        if (this.operations.size >= this.options.lookupsMax) break
        this.startRefresh(bucket.index, time)
      }
    }
    for (const [keyHex, own] of this.ownRecords) {
      if (own.record.expiresAtMs <= time.wallMs) {
        this.ownRecords.delete(keyHex)
        continue
      }
      if (own.lastPublishedMs + this.options.republishIntervalMs > time.nowMs) continue
      if (this.operations.size >= this.options.lookupsMax) break
      own.lastPublishedMs = time.nowMs
      // Keep our own copy fresh too, so the replication pass leaves it to the republish.
      this.records.put(own.record, time.nowMs, time.wallMs)
      this.startOperation('republish', own.record.key, own.record, time)
    }
    for (const record of this.records.takeDueForReplication(
      time.nowMs - this.options.replicateIntervalMs,
      time.nowMs,
    )) {
      if (this.ownRecords.has(recordKeyHex(record.key))) continue
      if (this.operations.size >= this.options.lookupsMax) break
      this.startOperation('replicate', record.key, record, time)
    }
  }

  private compactDeadlines(): void {
    if (this.deadlinesHead > 1024 && this.deadlinesHead * 2 > this.deadlines.length) {
      this.deadlines.splice(0, this.deadlinesHead)
      this.deadlinesHead = 0
    }
  }

  private refuse(reason: RefusalReason, peer: NodeId, detail: string): void {
    this.stats.refused[reason]++
    this.output.refused.push({ reason, peer, detail })
  }
}
