import {
  Emitter,
  every,
  checkLimit,
  checkNumber,
  noopLogger,
  toError,
  type Clock,
  type EngineStatus,
  type Logger,
  type NodeId,
  type TimerHandle,
} from '@socketcloud/core'
import type { ConsensusRuntime } from '@socketcloud/consensus'
import type { MembershipChange, RaftEngine, RaftMessage } from '@socketcloud/consensus-raft'
import type { KeyValue, RangeResult } from '@socketcloud/state-machines'
import type { DirectoryRecord } from './member-directory'
import type { NodeMachine, NodePartName } from './node-machine'
import {
  ServiceError,
  badRequest,
  fromMachineRefusal,
  fromRuntimeError,
  noLeader,
  stopping,
  notFound,
  timeout,
} from './service-error'
import type { WatchSink, WatchStart } from './watch-hub'

export type Consistency = 'linearizable' | 'stale'
export type MemberState = 'alive' | 'suspect' | 'dead'

/** A client's session and the sequence number of this write (X-Session-Id / X-Session-Seq). */
export interface ClientSession {
  readonly id: string
  readonly sequence: number
}

export interface WriteOptions {
  readonly session?: ClientSession
}

/** A member as the directory event and the cluster status list it. */
export interface DirectoryMember extends DirectoryRecord {
  readonly role: 'voter' | 'learner'
}

export interface ClusterMember {
  readonly id: string
  readonly address: string | null
  readonly api: string | null
  readonly role: 'voter' | 'learner'
  readonly state: MemberState | 'self'
  readonly phi: number | null
  readonly leader: boolean
}

export interface ClusterStatus {
  readonly id: string
  readonly leader: string | null
  readonly role: string
  readonly term: number
  readonly commitIndex: number
  readonly appliedIndex: number
  readonly members: readonly ClusterMember[]
}

export interface NodeServicesEvents {
  /** The members with their addresses changed (membership or directory); the full list, sorted by id. */
  directory: readonly DirectoryMember[]
}

export interface NodeServicesComponents {
  readonly runtime: ConsensusRuntime<RaftMessage, RaftEngine>
  readonly machine: NodeMachine
  readonly localId: NodeId
  readonly clock: Clock
  /** The failure detector's view of a peer; undefined when it knows nothing of it. */
  readonly memberHealth?: (id: string) => { readonly state: MemberState; readonly phi: number } | undefined
  readonly logger?: Logger
  /** Per-request timeout for submits and reads. @default 10,000 */
  readonly requestTimeoutMs?: number
  /** How long adding a voter waits for its promotion before answering `learner`. @default requestTimeoutMs */
  readonly promotionWaitMs?: number
  /**
   * How often the leader looks for learners whose directory record asks for promotion (a join whose
   * call returned `learner`, or one interrupted by a change of leader) and promotes those caught up.
   * @default 500
   */
  readonly reconcileIntervalMs?: number
  /** Retry period of refused membership changes (`change-pending`, `not-caught-up`). @default 100 */
  readonly membershipRetryMs?: number
  /**
   * Responses a client session keeps below its newest sequence number: a write names
   * `acknowledgedBelow = sequence - sessionAckWindow`, so a retry of any of the last this-many writes
   * is still answered from the session table. @default 1,000
   */
  readonly sessionAckWindow?: number
}

/** The leader is another node; the API forwards admin calls to its `api` URL. */
export class NotLeaderError extends ServiceError {
  constructor(
    readonly leader: string | null,
    readonly leaderApi: string | null,
  ) {
    super({
      status: 503,
      error: 'no_leader',
      outcome: 'not_applied',
      retryAfterSeconds: 1,
      message:
        leader === null
          ? 'no leader is known'
          : `this node is not the leader (${leader.slice(0, 12)}) and cannot reach its API`,
    })
  }
}

const POLL_INTERVAL_MS = 20

/**
 * Every operation of the node's API over a started ConsensusRuntime and the node machine: key-value,
 * counters, locks, sessions, cluster status and membership. Failures come out as ServiceError in the
 * API contract's terms (status, error code, and whether a write may have applied).
 *
 * Writes go through `runtime.submit` (forwarded to the leader by the runtime); linearizable reads
 * through `runtime.read`. Membership changes and leadership transfer are engine operations on the
 * leader: called on a follower they throw NotLeaderError carrying the leader's API URL.
 */
export class NodeServices {
  readonly events = new Emitter<NodeServicesEvents>()
  readonly localId: NodeId
  private readonly runtime: ConsensusRuntime<RaftMessage, RaftEngine>
  private readonly machine: NodeMachine
  private readonly clock: Clock
  private readonly memberHealth: NodeServicesComponents['memberHealth']
  private readonly logger: Logger
  readonly requestTimeoutMs: number
  private readonly promotionWaitMs: number
  private readonly reconcileTimer: TimerHandle
  private reconciling = false
  private readonly membershipRetryMs: number
  private readonly sessionAckWindow: number
  private stopping = false
  private readonly cancellers = new Set<() => void>()
  private lastDirectory = ''
  private directoryQueued = false
  private lastMembership = ''
  private readonly unsubscribe: Array<() => void> = []

  constructor(components: NodeServicesComponents) {
    this.runtime = components.runtime
    this.machine = components.machine
    this.localId = components.localId
    this.clock = components.clock
    this.memberHealth = components.memberHealth
    this.logger = (components.logger ?? noopLogger).child({ component: 'services' })
    this.requestTimeoutMs = checkNumber('requestTimeoutMs', components.requestTimeoutMs ?? 10_000, 1)
    this.promotionWaitMs = checkNumber(
      'promotionWaitMs',
      components.promotionWaitMs ?? this.requestTimeoutMs,
      0,
    )
    this.membershipRetryMs = checkNumber('membershipRetryMs', components.membershipRetryMs ?? 100, 1)
    this.sessionAckWindow = checkLimit('sessionAckWindow', components.sessionAckWindow ?? 1_000)
    this.reconcileTimer = every(
      this.clock,
      checkNumber('reconcileIntervalMs', components.reconcileIntervalMs ?? 500, 1),
      () => this.reconcilePromotions(),
    )
    this.unsubscribe.push(this.machine.onDirectoryChange(() => this.queueDirectory()))
    this.unsubscribe.push(
      this.runtime.events.on('status', (status) => {
        const membership = `${status.voters.join(',')}|${status.learners.join(',')}`
        if (membership === this.lastMembership) return
        this.lastMembership = membership
        this.queueDirectory()
      }),
    )
  }

  get clockNow(): number {
    return this.clock.wallNow()
  }

  get isStopping(): boolean {
    return this.stopping
  }

  /** Refuses new work with 503 `stopping` and ends background tasks (promotions, bootstrap). */
  stop(): void {
    this.stopping = true
    this.reconcileTimer.cancel()
    for (const cancel of [...this.cancellers]) cancel()
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe()
  }

  // ---------------------------------------------------------------- key-value

  async kvPut(
    key: string,
    value: Uint8Array,
    options: WriteOptions & { readonly prevRevision?: number } = {},
  ): Promise<{ revision: number }> {
    const kv = this.machine.types.kv
    if (options.prevRevision === undefined) {
      const result = kv.decodeCommandResult(
        'put',
        await this.submit('kv', kv.encodeCommand('put', { key, value }), options),
      )
      if (!result.ok) throw fromMachineRefusal(result.code, result.message)
      return { revision: result.value.revision }
    }
    const result = kv.decodeCommandResult(
      'compareAndSet',
      await this.submit(
        'kv',
        kv.encodeCommand('compareAndSet', { key, expectedModRevision: options.prevRevision, value }),
        options,
      ),
    )
    if (!result.ok) throw fromMachineRefusal(result.code, result.message)
    if (!result.value.succeeded) throw revisionMismatch(result.value.current)
    return { revision: result.value.revision }
  }

  async kvGet(
    key: string,
    consistency: Consistency,
  ): Promise<{ kv: KeyValue | null; storeRevision: number }> {
    const kv = this.machine.types.kv
    const result = kv.decodeQueryResult(
      'get',
      await this.read('kv', kv.encodeQuery('get', { key }), consistency),
    )
    if (!result.ok) throw fromMachineRefusal(result.code, result.message)
    return { kv: result.value.kv, storeRevision: result.value.revision }
  }

  async kvDelete(
    key: string,
    options: WriteOptions & { readonly prevRevision?: number } = {},
  ): Promise<{ revision: number }> {
    const kv = this.machine.types.kv
    if (options.prevRevision === undefined) {
      const result = kv.decodeCommandResult(
        'delete',
        await this.submit('kv', kv.encodeCommand('delete', { key }), options),
      )
      if (!result.ok) throw fromMachineRefusal(result.code, result.message)
      if (!result.value.deleted) throw notFound(`no key ${JSON.stringify(key)}`)
      return { revision: result.value.revision }
    }
    const result = kv.decodeCommandResult(
      'compareAndSet',
      await this.submit(
        'kv',
        kv.encodeCommand('compareAndSet', { key, expectedModRevision: options.prevRevision, value: null }),
        options,
      ),
    )
    if (!result.ok) throw fromMachineRefusal(result.code, result.message)
    if (!result.value.succeeded) throw revisionMismatch(result.value.current)
    // prev_revision=0 matches only an absent key, so there was nothing to delete.
    if (options.prevRevision === 0) throw notFound(`no key ${JSON.stringify(key)}`)
    return { revision: result.value.revision }
  }

  async kvList(prefix: string, limit: number, consistency: Consistency): Promise<RangeResult> {
    const kv = this.machine.types.kv
    const result = kv.decodeQueryResult(
      'range',
      await this.read('kv', kv.encodeQuery('range', { prefix, limit }), consistency),
    )
    if (!result.ok) throw fromMachineRefusal(result.code, result.message)
    return result.value
  }

  /** Starts a watch on this replica's applied state (see WatchHub.watch). */
  watch(prefix: string, fromRevision: number | undefined, sink: WatchSink): WatchStart {
    return this.machine.hub.watch(prefix, fromRevision, sink)
  }

  get watcherCount(): number {
    return this.machine.hub.watcherCount
  }

  // ---------------------------------------------------------------- counters

  async counterAdd(name: string, delta: number, options: WriteOptions = {}): Promise<{ value: number }> {
    const counters = this.machine.types.counter
    const operation = delta >= 0 ? 'increment' : 'decrement'
    const result = counters.decodeCommandResult(
      operation,
      await this.submit('counter', counters.encodeCommand(operation, { name, by: Math.abs(delta) }), options),
    )
    if (!result.ok) {
      if (result.code === 'OVERFLOW') {
        throw new ServiceError({ status: 409, error: 'overflow', message: result.message })
      }
      throw fromMachineRefusal(result.code, result.message)
    }
    return result.value
  }

  async counterGet(name: string, consistency: Consistency): Promise<{ value: number }> {
    const counters = this.machine.types.counter
    const result = counters.decodeQueryResult(
      'get',
      await this.read('counter', counters.encodeQuery('get', { name }), consistency),
    )
    if (!result.ok) throw fromMachineRefusal(result.code, result.message)
    return result.value
  }

  // ---------------------------------------------------------------- locks

  async lockAcquire(
    name: string,
    owner: string,
    ttlMs: number,
    options: WriteOptions = {},
  ): Promise<{ fencingToken: number; expiresAt: number }> {
    const locks = this.machine.types.lock
    const result = locks.decodeCommandResult(
      'acquire',
      await this.submit('lock', locks.encodeCommand('acquire', { name, owner, leaseMs: ttlMs }), options),
    )
    if (!result.ok) throw lockRefusal(result.code, result.message)
    if (!result.value.granted) {
      throw new ServiceError({
        status: 409,
        error: 'held',
        message: `lock ${JSON.stringify(name)} is held by another owner`,
        extra: { holder: result.value.holder, expires_at: result.value.expiresAtMs },
      })
    }
    return { fencingToken: result.value.fencingToken, expiresAt: result.value.expiresAtMs }
  }

  async lockRenew(
    name: string,
    owner: string,
    fencingToken: number,
    ttlMs: number,
    options: WriteOptions = {},
  ): Promise<{ fencingToken: number; expiresAt: number }> {
    const locks = this.machine.types.lock
    const result = locks.decodeCommandResult(
      'renew',
      await this.submit(
        'lock',
        locks.encodeCommand('renew', { name, owner, fencingToken, leaseMs: ttlMs }),
        options,
      ),
    )
    if (!result.ok) throw lockRefusal(result.code, result.message)
    return { fencingToken: result.value.fencingToken, expiresAt: result.value.expiresAtMs }
  }

  async lockRelease(
    name: string,
    owner: string,
    fencingToken: number,
    options: WriteOptions = {},
  ): Promise<{ released: true }> {
    const locks = this.machine.types.lock
    const result = locks.decodeCommandResult(
      'release',
      await this.submit('lock', locks.encodeCommand('release', { name, owner, fencingToken }), options),
    )
    if (!result.ok) throw lockRefusal(result.code, result.message)
    return { released: true }
  }

  async lockGet(
    name: string,
    consistency: Consistency,
  ): Promise<{ holder: string | null; fencingToken: number | null; expiresAt: number | null; now: number }> {
    const locks = this.machine.types.lock
    const result = locks.decodeQueryResult(
      'get',
      await this.read('lock', locks.encodeQuery('get', { name }), consistency),
    )
    if (!result.ok) throw fromMachineRefusal(result.code, result.message)
    const { lock, clockMs } = result.value
    return {
      holder: lock?.owner ?? null,
      fencingToken: lock?.fencingToken ?? null,
      expiresAt: lock?.expiresAtMs ?? null,
      now: clockMs,
    }
  }

  // ---------------------------------------------------------------- sessions

  async openSession(): Promise<string> {
    this.checkRunning()
    try {
      return await this.runtime.openSession({ timeoutMs: this.requestTimeoutMs })
    } catch (thrown) {
      throw fromRuntimeError(thrown)
    }
  }

  // ---------------------------------------------------------------- cluster

  status(): EngineStatus & { readonly appliedIndex: number } {
    return this.runtime.status()
  }

  /** This node's role for /health: the engine's role, or `learner`. */
  role(): string {
    const status = this.runtime.status()
    return status.learners.includes(this.localId.hex) ? 'learner' : status.role
  }

  directoryRecords(): DirectoryRecord[] {
    const records = this.machine.combined.part('directory').current.records
    return [...records.values()]
  }

  clusterStatus(): ClusterStatus {
    const status = this.runtime.status()
    const records = this.machine.combined.part('directory').current.records
    const self = this.localId.hex
    const member = (id: string, role: 'voter' | 'learner'): ClusterMember => {
      const record = records.get(id)
      const health = id === self ? undefined : this.memberHealth?.(id)
      return {
        id,
        address: record?.address ?? null,
        api: record?.api ?? null,
        role,
        state: id === self ? 'self' : (health?.state ?? 'suspect'),
        phi: health === undefined ? null : health.phi,
        leader: id === status.leader,
      }
    }
    const members = [
      ...status.voters.map((id) => member(id, 'voter')),
      ...status.learners.map((id) => member(id, 'learner')),
    ].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return {
      id: self,
      leader: status.leader,
      role: this.role(),
      term: status.term,
      commitIndex: status.commitIndex,
      appliedIndex: status.appliedIndex,
      members,
    }
  }

  /** The members with known addresses, as the `directory` event carries them. */
  directoryMembers(): DirectoryMember[] {
    const status = this.runtime.status()
    const records = this.machine.combined.part('directory').current.records
    const members: DirectoryMember[] = []
    for (const [ids, role] of [
      [status.voters, 'voter'],
      [status.learners, 'learner'],
    ] as const) {
      for (const id of ids) {
        const record = records.get(id)
        if (record) members.push({ ...record, role })
      }
    }
    return members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  /**
   * Adds a node: records its addresses in the directory, adds it as a learner and, when `voter`,
   * promotes it once it has caught up (retrying `not-caught-up` for up to promotionWaitMs before
   * answering `learner`; the promotion request stays in the directory, so whichever node leads
   * promotes it once it has caught up). Leader only.
   */
  async addMember(request: {
    readonly id: string
    readonly address: string
    readonly api: string | null
    readonly voter: boolean
  }): Promise<{ id: string; role: 'voter' | 'learner' }> {
    this.checkRunning()
    this.requireLeader()
    const deadlineMs = this.clock.now() + this.requestTimeoutMs
    const status = this.runtime.status()
    if (status.voters.includes(request.id)) throw memberExists(request.id, 'voter')
    if (status.learners.includes(request.id) && !request.voter) throw memberExists(request.id, 'learner')
    const directory = this.machine.types.directory
    const registered = directory.decodeCommandResult(
      'register',
      await this.submit(
        'directory',
        directory.encodeCommand('register', {
          id: request.id,
          address: request.address,
          api: request.api,
          promote: request.voter,
          merge: false,
        }),
        {},
      ),
    )
    if (!registered.ok) throw fromMachineRefusal(registered.code, registered.message)
    if (!this.runtime.status().learners.includes(request.id)) {
      const change = await this.changeMembership({ type: 'add-learner', id: request.id }, deadlineMs)
      if (change === 'invalid') throw memberExists(request.id, 'voter')
    }
    if (!request.voter) return { id: request.id, role: 'learner' }
    const promoteBy = this.clock.now() + this.promotionWaitMs
    const promoted = await this.promote(request.id, promoteBy, false)
    if (!promoted) return { id: request.id, role: 'learner' } // the leader's reconciler carries on
    await this.clearPromotion(request.id)
    return { id: request.id, role: 'voter' }
  }

  /** Removes a voter or learner (the leader may remove itself; it then hands leadership over). */
  async removeMember(id: string): Promise<{ removed: string }> {
    this.checkRunning()
    this.requireLeader()
    const deadlineMs = this.clock.now() + this.requestTimeoutMs
    const status = this.runtime.status()
    if (!status.voters.includes(id) && !status.learners.includes(id)) {
      throw new ServiceError({ status: 404, error: 'not_member', message: `${id} is not a member` })
    }
    const change = await this.changeMembership({ type: 'remove', id }, deadlineMs)
    if (change === 'invalid') {
      throw new ServiceError({
        status: 409,
        error: 'invalid_change',
        message: `${id} cannot be removed (the last voter?)`,
      })
    }
    if (id !== this.localId.hex) {
      const directory = this.machine.types.directory
      try {
        await this.submit('directory', directory.encodeCommand('remove', { id }), {})
      } catch (thrown) {
        // The record outlives the membership only as an unused address; the directory event lists members only.
        this.logger.warn({ id, error: toError(thrown).message }, 'could not remove a directory record')
      }
    }
    return { removed: id }
  }

  /** Hands leadership to `to` (default: the most caught-up other voter) and waits until it leads. */
  async transferLeader(to?: string): Promise<{ leader: string }> {
    this.checkRunning()
    this.requireLeader()
    const self = this.localId.hex
    const deadlineMs = this.clock.now() + this.requestTimeoutMs
    const target = to ?? this.mostCaughtUpVoter()
    if (target === undefined) throw badRequest('there is no other voter to hand leadership to')
    if (target === self) return { leader: self }
    if (!this.runtime.status().voters.includes(target)) throw badRequest(`${target} is not a voter`)
    const result = await this.control((raft) => raft.transferLeadership(target))
    if (!result.ok) {
      if (result.reason === 'not-voter') throw badRequest(`${target} is not a voter`)
      throw this.notLeader(result.leader)
    }
    const moved = await this.waitFor(() => this.runtime.status().leader === target, deadlineMs)
    if (!moved) throw timeout(`leadership did not move to ${target.slice(0, 12)} in time`)
    return { leader: target }
  }

  /**
   * Writes the founding members' addresses into the directory once there is a leader. Records that
   * already exist are kept (an unknown API URL is filled in), so every founder may call this at every
   * start. Resolves when written; retries refusals until `bootstrapTimeoutMs`.
   */
  async bootstrapDirectory(members: readonly DirectoryRecord[], bootstrapTimeoutMs = 300_000): Promise<void> {
    const deadlineMs = this.clock.now() + bootstrapTimeoutMs
    const directory = this.machine.types.directory
    for (const member of members) {
      for (let delayMs = this.membershipRetryMs; ; delayMs = Math.min(delayMs * 2, 2_000)) {
        const existing = this.machine.combined.part('directory').current.records.get(member.id)
        if (existing && existing.address === member.address && (member.api === null || existing.api !== null))
          break
        if (await this.waitFor(() => this.runtime.status().leader !== null, deadlineMs)) {
          try {
            const result = directory.decodeCommandResult(
              'register',
              await this.submit(
                'directory',
                directory.encodeCommand('register', {
                  id: member.id,
                  address: member.address,
                  api: member.api,
                  promote: member.promote ?? false,
                  merge: true,
                }),
                {},
              ),
            )
            if (!result.ok) throw fromMachineRefusal(result.code, result.message)
            break
          } catch (thrown) {
            if (this.stopping) return
            const error = fromRuntimeError(thrown)
            // Capacity (429) and the runtime's own session expiring (410, reopened on the next try) pass.
            if (error.status < 500 && error.status !== 429 && error.status !== 410) throw error
            this.logger.debug({ id: member.id, error: error.message }, 'directory bootstrap retry')
          }
        }
        if (this.stopping) return
        if (this.clock.now() + delayMs > deadlineMs)
          throw timeout('the member directory could not be written in time')
        await this.sleep(delayMs)
      }
    }
  }

  /** The leader's API URL from the directory, for forwarding admin calls. */
  leaderApi(): { leader: string | null; api: string | null } {
    const leader = this.runtime.status().leader
    if (leader === null) return { leader, api: null }
    return { leader, api: this.machine.combined.part('directory').current.records.get(leader)?.api ?? null }
  }

  // ---------------------------------------------------------------- internals

  private checkRunning(): void {
    if (this.stopping || !this.runtime.running) {
      throw stopping()
    }
  }

  private async submit(part: NodePartName, inner: Uint8Array, options: WriteOptions): Promise<Uint8Array> {
    this.checkRunning()
    const command = this.machine.encode(part, inner)
    const session = options.session
    try {
      return await this.runtime.submit(command, {
        timeoutMs: this.requestTimeoutMs,
        ...(session
          ? {
              session: {
                id: session.id,
                sequence: session.sequence,
                acknowledgedBelow: Math.max(1, session.sequence - this.sessionAckWindow),
              },
            }
          : {}),
      })
    } catch (thrown) {
      throw fromRuntimeError(thrown)
    }
  }

  private async read(part: NodePartName, inner: Uint8Array, consistency: Consistency): Promise<Uint8Array> {
    this.checkRunning()
    try {
      return await this.runtime.read(this.machine.encode(part, inner), consistency, {
        timeoutMs: this.requestTimeoutMs,
      })
    } catch (thrown) {
      throw fromRuntimeError(thrown)
    }
  }

  private async control<T>(operation: (raft: RaftEngine) => T): Promise<T> {
    try {
      return await this.runtime.control(operation)
    } catch (thrown) {
      throw fromRuntimeError(thrown)
    }
  }

  private requireLeader(): void {
    const leader = this.runtime.status().leader
    if (leader !== this.localId.hex) throw this.notLeader(leader)
  }

  private notLeader(leader: string | null): ServiceError {
    if (leader === null) return noLeader('no leader is known; try again')
    return new NotLeaderError(
      leader,
      this.machine.combined.part('directory').current.records.get(leader)?.api ?? null,
    )
  }

  /**
   * Proposes one membership change, retrying refusals that pass (`change-pending`, `transferring`,
   * `no-leader` briefly) until `deadlineMs`, then waits for it to commit. 'invalid' is returned for
   * the caller to explain.
   */
  private async changeMembership(
    change: MembershipChange,
    deadlineMs: number,
  ): Promise<'committed' | 'invalid'> {
    for (;;) {
      const result = await this.control((raft) => raft.proposeMembershipChange(change))
      if (result.ok) {
        const committed = await this.waitFor(
          () => this.runtime.status().commitIndex >= result.index,
          deadlineMs,
        )
        if (!committed)
          throw timeout(`the ${change.type} of ${change.id.slice(0, 12)} did not commit in time`)
        return 'committed'
      }
      if (result.reason === 'invalid') return 'invalid'
      if (result.reason === 'not-leader') throw this.notLeader(result.leader)
      if (this.stopping) this.checkRunning()
      if (this.clock.now() + this.membershipRetryMs > deadlineMs) {
        if (result.reason === 'no-leader') throw noLeader(result.detail)
        throw timeout(
          `the ${change.type} of ${change.id.slice(0, 12)} was refused until the deadline: ${result.detail}`,
        )
      }
      await this.sleep(this.membershipRetryMs)
    }
  }

  /** Retries promote-learner until it commits (true), the deadline passes or leadership is lost (false). */
  private async promote(id: string, deadlineMs: number, quiet: boolean): Promise<boolean> {
    for (;;) {
      if (this.stopping) return false
      const status = this.runtime.status()
      if (status.voters.includes(id)) return true
      if (!status.learners.includes(id) || status.leader !== this.localId.hex) return false
      const result = await this.control((raft) =>
        raft.proposeMembershipChange({ type: 'promote-learner', id }),
      )
      if (result.ok) {
        return this.waitFor(() => this.runtime.status().commitIndex >= result.index, deadlineMs)
      }
      if (result.reason === 'invalid' || result.reason === 'not-leader' || result.reason === 'no-leader') {
        return this.runtime.status().voters.includes(id)
      }
      if (this.clock.now() + this.membershipRetryMs > deadlineMs) {
        if (!quiet) this.logger.info({ id, reason: result.detail }, 'learner not promoted yet')
        return false
      }
      await this.sleep(this.membershipRetryMs)
    }
  }

  /**
   * On the leader: promotes caught-up learners whose directory record asks for it, and clears the
   * request of those already voters. One pass at a time; every refusal simply waits for the next.
   */
  private reconcilePromotions(): void {
    if (this.reconciling || this.stopping || !this.runtime.running) return
    const status = this.runtime.status()
    if (status.leader !== this.localId.hex) return
    const records = this.machine.combined.part('directory').current.records
    const pending = [...records.values()].filter((record) => record.promote)
    if (pending.length === 0) return
    this.reconciling = true
    const pass = async (): Promise<void> => {
      for (const record of pending) {
        const current = this.runtime.status()
        if (current.voters.includes(record.id) || !current.learners.includes(record.id)) {
          if (current.voters.includes(record.id)) await this.clearPromotion(record.id)
          continue
        }
        const promoted = await this.promote(record.id, this.clock.now(), true)
        if (promoted) {
          this.logger.info({ id: record.id }, 'learner promoted to voter')
          await this.clearPromotion(record.id)
        }
      }
    }
    pass()
      .catch((thrown: unknown) =>
        this.logger.debug({ error: toError(thrown).message }, 'promotion pass failed'),
      )
      .finally(() => {
        this.reconciling = false
      })
  }

  private async clearPromotion(id: string): Promise<void> {
    const directory = this.machine.types.directory
    try {
      await this.submit('directory', directory.encodeCommand('promoted', { id }), {})
    } catch (thrown) {
      // The leader's reconciler clears it on a later pass.
      this.logger.debug({ id, error: toError(thrown).message }, 'could not clear a promotion request')
    }
  }

  private mostCaughtUpVoter(): string | undefined {
    const inspected = this.runtime.engine.inspect()
    let best: string | undefined
    let bestMatch = -1
    for (const id of inspected.membership.voters) {
      if (id === this.localId.hex) continue
      const match = inspected.progress.get(id)?.match ?? 0
      if (match > bestMatch) {
        best = id
        bestMatch = match
      }
    }
    return best
  }

  /** Resolves true once `predicate` holds, false at `deadlineMs` or when stopping; checked on the clock. */
  private waitFor(predicate: () => boolean, deadlineMs: number): Promise<boolean> {
    if (predicate()) return Promise.resolve(true)
    return new Promise((resolve) => {
      const check = (): void => {
        this.cancellers.delete(cancel)
        if (predicate()) return resolve(true)
        if (this.stopping || this.clock.now() >= deadlineMs) return resolve(false)
        const handle = this.clock.setTimer(Math.min(POLL_INTERVAL_MS, deadlineMs - this.clock.now()), check)
        cancel = () => {
          handle.cancel()
          resolve(false)
        }
        this.cancellers.add(cancel)
      }
      let cancel = (): void => undefined
      check()
    })
  }

  private sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.clock.setTimer(delayMs, () => {
        this.cancellers.delete(cancel)
        resolve()
      })
      const cancel = (): void => {
        handle.cancel()
        resolve()
      }
      this.cancellers.add(cancel)
    })
  }

  private queueDirectory(): void {
    if (this.directoryQueued) return
    this.directoryQueued = true
    queueMicrotask(() => {
      this.directoryQueued = false
      if (!this.runtime.running) return
      const members = this.directoryMembers()
      const text = JSON.stringify(members)
      if (text === this.lastDirectory) return
      this.lastDirectory = text
      this.events.emit('directory', members)
    })
  }
}

function revisionMismatch(current: KeyValue | null): ServiceError {
  const modRevision = current?.modRevision ?? 0
  return new ServiceError({
    status: 409,
    error: 'revision_mismatch',
    message: `the key's mod revision is ${modRevision}`,
    extra: { current: modRevision },
  })
}

function memberExists(id: string, role: string): ServiceError {
  return new ServiceError({
    status: 409,
    error: 'member_exists',
    message: `${id.slice(0, 12)} is already a ${role}`,
    extra: { role },
  })
}

function lockRefusal(code: string, message: string): ServiceError {
  if (code === 'NOT_HOLDER') return new ServiceError({ status: 409, error: 'not_holder', message })
  if (code === 'LEASE_EXPIRED') return new ServiceError({ status: 409, error: 'lease_expired', message })
  return fromMachineRefusal(code, message)
}
