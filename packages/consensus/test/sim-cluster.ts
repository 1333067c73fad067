import {
  ConsensusError,
  MemoryMetrics,
  NodeId,
  type LogStore,
  type Logger,
  type SnapshotStore,
} from '@socketcloud/core'
import type { RaftEngine, RaftMessage, RaftOptions } from '@socketcloud/consensus-raft'
import {
  SimDisk,
  SimNetwork,
  Simulation,
  simNodeId,
  type SimTransport,
  type VirtualClock,
} from '@socketcloud/sim'
import { ConsensusRuntime, PeerConnector, raftEngineFactory, type ConsensusRuntimeInit } from '../src/index'
import { KvMachine, decodeJson, encodeJson } from './kv-machine'

/**
 * A simulated cluster of runtimes: each node has its own SimDisk (a crash loses unsynced writes), an
 * endpoint on one SimNetwork, its own virtual clock, and a PeerConnector that redials its peers. The
 * runtime, the Raft engine and the stores are the real ones; only the world around them is simulated.
 *
 * Invariants checked after every simulation event:
 * - election safety: at most one leader per term, ever;
 * - state machine safety: every replica applies the same command at the same index.
 */
export interface SimClusterOptions {
  readonly seed: number
  readonly size: number
  readonly runtime?: ConsensusRuntimeInit
  readonly raft?: Partial<RaftOptions>
  readonly logger?: Logger
  /** Adjusts each engine after it is built (e.g. to emulate an engine without a read index). */
  readonly adaptEngine?: (engine: RaftEngine) => void
  /** Simulation events allowed in the whole run, so a livelock fails fast with its seed. @default 400_000 */
  readonly eventsMax?: number
  /** Time each disk's fsync takes (SimDisk `syncLatencyMs`). @default SimDisk's */
  readonly diskSyncLatencyMs?: number
  /** Wraps each node's snapshot store (e.g. to hold saves back). */
  readonly wrapSnapshotStore?: (store: SnapshotStore, node: SimNode) => SnapshotStore
  /** Wraps each node's log store (e.g. to fail a write). */
  readonly wrapLogStore?: (store: LogStore, node: SimNode) => LogStore
  /** Gives the test machine a stepped snapshot capture of this many rows per step (KvMachineOptions). */
  readonly captureRowsPerStep?: number
  /** Holds a node's capture steps back while it returns true (KvMachineOptions.captureHeld). */
  readonly captureHeld?: (node: SimNode) => boolean
}

export class SimNode {
  transport: SimTransport | null = null
  runtime: ConsensusRuntime<RaftMessage, RaftEngine> | null = null
  connector: PeerConnector | null = null
  machine: KvMachine | null = null
  readonly metrics = new MemoryMetrics()
  alive = false
  restarting = false
  /** Sources of every state machine restore, across restarts ('disk' at start, 'leader' from a snapshot). */
  readonly restores: string[] = []
  restarts = 0

  constructor(
    readonly index: number,
    readonly id: NodeId,
    readonly name: string,
    readonly disk: SimDisk,
    readonly clock: VirtualClock,
  ) {}

  get address(): string {
    return `mem://${this.name}`
  }
}

export class SimCluster {
  readonly sim: Simulation
  readonly network: SimNetwork
  readonly nodes: SimNode[]
  /** index → command bytes (as text) applied there, by any replica. */
  readonly appliedCommands = new Map<number, string>()
  /**
   * Runtimes that stopped themselves on an error (their 'failed' event). A runtime fails only on a
   * broken store or a bug, so every scenario expects none; kept so a test names the error instead of
   * reporting a replica that never caught up.
   */
  readonly runtimeFailures: Array<{ node: string; atMs: number; error: Error }> = []
  private readonly leadersByTerm = new Map<number, string>()
  readonly stats = {
    crashes: 0,
    restarts: 0,
    partitions: 0,
    transfers: 0,
    membershipChanges: 0,
    invariantChecks: 0,
  }

  constructor(private readonly options: SimClusterOptions) {
    this.sim = new Simulation({ seed: options.seed, eventsMax: options.eventsMax ?? 400_000 })
    this.network = new SimNetwork(this.sim, { latencyMs: 1, jitterMs: 2 })
    this.nodes = Array.from({ length: options.size }, (_, index) => {
      const name = `n${index}`
      return new SimNode(
        index,
        simNodeId(index),
        name,
        new SimDisk(this.sim, {
          name: `disk-${name}`,
          ...(options.diskSyncLatencyMs !== undefined ? { syncLatencyMs: options.diskSyncLatencyMs } : {}),
        }),
        this.sim.clockFor(name),
      )
    })
    this.sim.addInvariant('election safety', () => this.checkElectionSafety())
  }

  get voters(): string[] {
    return this.nodes.map((node) => node.id.hex)
  }

  /** Starts every node; call outside a simulation runner (it drives the simulation itself). */
  async startAll(): Promise<void> {
    await this.sim.await(Promise.all(this.nodes.map((node) => this.start(node))))
  }

  async start(node: SimNode): Promise<void> {
    const transport = node.transport === null ? this.network.endpoint(node.id) : this.network.restart(node.id)
    await transport.listen(node.address)
    const machine = new KvMachine((index, command) => this.recordApply(node, index, command), {
      ...(this.options.captureRowsPerStep !== undefined
        ? { captureRowsPerStep: this.options.captureRowsPerStep }
        : {}),
      ...(this.options.captureHeld ? { captureHeld: () => this.options.captureHeld!(node) } : {}),
    })
    const runtime = new ConsensusRuntime(
      {
        transport,
        logStore: this.options.wrapLogStore
          ? this.options.wrapLogStore(node.disk.logStore(), node)
          : node.disk.logStore(),
        snapshotStore: this.options.wrapSnapshotStore
          ? this.options.wrapSnapshotStore(node.disk.snapshotStore(), node)
          : node.disk.snapshotStore(),
        stateMachine: machine,
        clock: node.clock,
        engineFactory: this.engineFactory(),
        random: this.sim.random.fork(),
        metrics: node.metrics,
        ...(this.options.logger ? { logger: this.options.logger } : {}),
      },
      {
        tickIntervalMs: 10,
        requestTimeoutMs: 3_000,
        forwardRetryMs: 200,
        snapshotIntervalEntries: 64,
        ...this.options.runtime,
      },
    )
    const connector = new PeerConnector(
      { transport, clock: node.clock },
      {
        peers: this.nodes.filter((peer) => peer !== node).map((peer) => [peer.id, peer.address] as const),
        redialIntervalMs: 50,
      },
    )
    node.transport = transport
    node.machine = machine
    node.runtime = runtime
    node.connector = connector
    runtime.events.on('restored', ({ source }) => node.restores.push(source))
    runtime.events.on('failed', ({ error }) =>
      this.runtimeFailures.push({ node: node.name, atMs: this.sim.now, error }),
    )
    connector.start()
    await runtime.start()
    node.alive = true
  }

  private engineFactory() {
    const factory = raftEngineFactory({
      voters: this.voters,
      random: this.sim.random.fork(),
      options: { electionTimeoutTicks: 10, heartbeatTicks: 1, ...this.options.raft },
    })
    const adapt = this.options.adaptEngine
    if (!adapt) return factory
    return {
      ...factory,
      create: (recovered: Parameters<typeof factory.create>[0]) => {
        const engine = factory.create(recovered)
        adapt(engine)
        return engine
      },
    }
  }

  /** Kills the node like a power cut: the network drops it, the disk loses what was not synced. */
  crash(node: SimNode): void {
    if (!node.alive) return
    this.stats.crashes++
    node.alive = false
    this.network.crash(node.id)
    node.disk.crash()
    node.connector?.stop()
    // The process is gone: its runtime never hears from the dead disk again, so nothing awaits it.
    node.runtime?.stop().catch(() => undefined)
  }

  /** Restarts a crashed node from what its disk kept; runs inside a simulation runner. */
  async restart(node: SimNode): Promise<void> {
    if (node.alive || node.restarting) return
    node.restarting = true
    this.stats.restarts++
    node.restarts++
    try {
      await this.start(node)
    } finally {
      node.restarting = false
    }
  }

  aliveNodes(): SimNode[] {
    return this.nodes.filter((node) => node.alive)
  }

  leader(): SimNode | null {
    let best: SimNode | null = null
    let bestTerm = -1
    for (const node of this.aliveNodes()) {
      const status = node.runtime!.engine.status()
      if (status.role === 'leader' && status.term > bestTerm) {
        best = node
        bestTerm = status.term
      }
    }
    return best
  }

  nodeById(hex: string): SimNode | undefined {
    return this.nodes.find((node) => node.id.hex === hex)
  }

  async put(node: SimNode, key: string, value: string): Promise<void> {
    const result = decodeJson<unknown>(await node.runtime!.submit(encodeJson({ op: 'put', key, value })))
    if (result !== 'ok') throw new Error(`put returned ${JSON.stringify(result)}`)
  }

  async get(
    node: SimNode,
    key: string,
    consistency: 'linearizable' | 'stale' = 'linearizable',
  ): Promise<string | null> {
    return decodeJson<string | null>(await node.runtime!.read(encodeJson({ op: 'get', key }), consistency))
  }

  /** Resolves after `ms` of this node's virtual time. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.sim.clock.setTimer(ms, resolve))
  }

  private recordApply(node: SimNode, index: number, command: Uint8Array): void {
    const text = new TextDecoder().decode(command)
    const known = this.appliedCommands.get(index)
    if (known === undefined) this.appliedCommands.set(index, text)
    else if (known !== text) {
      this.sim.fail(
        `state machine safety: ${node.name} applied ${text} at ${index}, another replica applied ${known}`,
      )
    }
  }

  private checkElectionSafety(): true | string {
    this.stats.invariantChecks++
    for (const node of this.nodes) {
      if (!node.alive || !node.runtime?.running) continue
      const status = node.runtime.engine.status()
      if (status.role !== 'leader') continue
      const known = this.leadersByTerm.get(status.term)
      if (known === undefined) this.leadersByTerm.set(status.term, status.id)
      else if (known !== status.id) return `two leaders in term ${status.term}: ${known} and ${status.id}`
    }
    return true
  }
}

export function isDefiniteFailure(error: unknown): boolean {
  // These outcomes mean the command was never proposed anywhere, so it cannot apply later.
  return (
    error instanceof ConsensusError && (error.code === 'NO_LEADER' || error.code === 'PROPOSAL_TOO_LARGE')
  )
}

export { NodeId }
