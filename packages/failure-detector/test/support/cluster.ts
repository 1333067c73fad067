import { Codec, NodeId, SeededRandom } from '@socketcloud/core'
import { Simulation, seedsToRun } from '@socketcloud/sim'
import type { SimRandom } from '@socketcloud/sim'
import { Membership, decodeMembershipMessage, encodeMembershipMessage } from '../../src/index'
import type { MembershipEvent, MembershipInit, MembershipOutput } from '../../src/index'

/**
 * Pure Membership cores driven directly on `@socketcloud/sim`'s Simulation (its event queue, virtual
 * time and seeded random), with a small message-level network model: no sockets, no codec unless
 * asked, so an hour of virtual time or 1,000 members stay fast. The driver tests run the same cores
 * through FailureDetectorNode over SimNetwork instead.
 */
export interface NetworkModel {
  /** Mean one-way delay. */
  readonly latencyMs: number
  /** Delay is latency + U(-jitter, +jitter), never below 0; messages may overtake each other. */
  readonly jitterMs: number
  readonly dropRate: number
}

export interface ClusterOptions {
  readonly seed: number
  readonly size: number
  readonly init?: MembershipInit
  readonly network?: NetworkModel
  /** How often each node's core is ticked. @default 10 */
  readonly tickMs?: number
  /** Pass every message through the envelope codec (slower; proves the wire format round-trips). */
  readonly wire?: boolean
  /** Start every node's tick at the same instant, so protocol rounds run in lockstep. @default false */
  readonly lockstep?: boolean
  /** Per-node init overrides (for example a split-brain strategy with a shared lease). */
  readonly initFor?: (index: number) => MembershipInit
}

export interface RecordedEvent {
  readonly atMs: number
  readonly node: NodeId
  readonly event: MembershipEvent
}

/** Deterministic 32-byte ids, drawn from `seed`. */
export function testNodeIds(count: number, seed: number): NodeId[] {
  const random = new SeededRandom(seed ^ 0x5eed1d)
  return Array.from({ length: count }, () => {
    const bytes = new Uint8Array(32)
    for (let i = 0; i < 32; i += 4) new DataView(bytes.buffer).setUint32(i, random.nextUint32())
    return NodeId.fromBytes(bytes)
  })
}

export class MembershipCluster {
  readonly ids: NodeId[]
  readonly cores = new Map<string, Membership>()
  readonly events: RecordedEvent[] = []
  messagesDelivered = 0
  messagesDropped = 0
  readonly sim: Simulation
  private readonly random: SimRandom
  private readonly crashed = new Set<string>()
  private groups: Map<string, number> | undefined
  private readonly codec = new Codec()
  private network: NetworkModel
  private readonly tickMs: number
  private readonly wire: boolean
  private readonly lockstep: boolean
  onEvent: ((record: RecordedEvent) => void) | undefined

  constructor(options: ClusterOptions) {
    this.sim = new Simulation({ seed: options.seed, eventsMax: 200_000_000 })
    this.random = this.sim.random.fork()
    this.ids = testNodeIds(options.size, options.seed)
    this.network = options.network ?? { latencyMs: 1, jitterMs: 0, dropRate: 0 }
    this.tickMs = options.tickMs ?? 10
    this.wire = options.wire ?? false
    this.lockstep = options.lockstep ?? false
    this.ids.forEach((id, index) => {
      const core = new Membership(
        { localId: id, random: this.random.fork(), members: this.ids },
        { ...options.init, ...options.initFor?.(index) },
      )
      this.cores.set(id.hex, core)
    })
  }

  get now(): number {
    return this.sim.now
  }

  core(id: NodeId): Membership {
    return this.cores.get(id.hex)!
  }

  isCrashed(id: NodeId): boolean {
    return this.crashed.has(id.hex)
  }

  /** Starts every node's tick loop, each at its own random phase. */
  start(): void {
    for (const id of this.ids) {
      const offset = this.lockstep ? 0 : this.random.nextFloat() * this.tickMs
      this.scheduleTick(id, this.now + offset)
    }
  }

  crash(id: NodeId): void {
    this.crashed.add(id.hex)
  }

  setNetwork(network: NetworkModel): void {
    this.network = network
  }

  partition(groups: readonly (readonly NodeId[])[]): void {
    this.groups = new Map()
    groups.forEach((group, index) => group.forEach((id) => this.groups!.set(id.hex, index)))
  }

  heal(): void {
    this.groups = undefined
  }

  /** Runs every event up to and including `untilMs`. */
  runUntil(untilMs: number): void {
    this.sim.runFor(untilMs - this.now)
  }

  runFor(durationMs: number): void {
    this.sim.runFor(durationMs)
  }

  /** Runs while `predicate` holds (checked after each event), at most `timeMsMax`; true when it stopped holding. */
  runWhile(predicate: () => boolean, timeMsMax: number): boolean {
    return this.sim.runUntil(() => !predicate(), { timeMsMax })
  }

  /** Delivers `output` from `from` at the current time (used by tests that call cores directly). */
  dispatch(from: NodeId, output: MembershipOutput): void {
    for (const event of output.events) {
      const record = { atMs: this.now, node: from, event }
      this.events.push(record)
      this.onEvent?.(record)
    }
    for (const { to, message } of output.messages) {
      if (!this.canDeliver(from, to)) {
        this.messagesDropped += 1
        continue
      }
      const delay = Math.max(
        0,
        this.network.latencyMs + (this.random.nextFloat() * 2 - 1) * this.network.jitterMs,
      )
      const bytes = this.wire ? encodeMembershipMessage(this.codec, from, message) : undefined
      this.sim.schedule(delay, 'deliver', () => {
        if (this.crashed.has(to.hex)) return
        const target = this.cores.get(to.hex)
        if (!target) return
        this.messagesDelivered += 1
        const decoded = bytes ? decodeMembershipMessage(this.codec, bytes).message : message
        this.dispatch(to, target.step(from, decoded, this.now))
      })
    }
  }

  private canDeliver(from: NodeId, to: NodeId): boolean {
    if (this.crashed.has(from.hex) || this.crashed.has(to.hex)) return false
    if (this.groups && this.groups.get(from.hex) !== this.groups.get(to.hex)) return false
    return this.network.dropRate === 0 || this.random.nextFloat() >= this.network.dropRate
  }

  private scheduleTick(id: NodeId, at: number): void {
    this.sim.scheduleAt(at, 'tick', () => {
      if (this.crashed.has(id.hex)) return
      this.dispatch(id, this.core(id).tick(this.now))
      this.scheduleTick(id, at + this.tickMs)
    })
  }
}

/** Percentile by nearest rank over a copy of `values`. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** Seeds to sweep: SIM_SEED replays one, SIM_SEEDS sets the count (the simulator's own rules). */
export function seeds(defaultCount: number): number[] {
  return seedsToRun({ count: defaultCount })
}
