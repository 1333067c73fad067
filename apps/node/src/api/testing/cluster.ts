import { NodeId, SeededRandom, systemClock } from '@socketcloud/core'
import { ConsensusRuntime, PeerConnector, raftEngineFactory } from '@socketcloud/consensus'
import type { RaftEngine, RaftMessage } from '@socketcloud/consensus-raft'
import { MemoryLogStore, MemorySnapshotStore } from '@socketcloud/sim'
import { MemTransport, MemoryNetwork, PlaintextUpgrader } from '@socketcloud/transport'
import { Registry } from 'prom-client'
import { NodeServices } from '../../services/node-services'
import { createNodeMachine, type NodeMachine, type NodeMachineOptions } from '../../services/node-machine'
import { ApiServer } from '../api-server'
import type { ApiAuthOptions } from '../auth'
import type { ApiLimits } from '../limits'

/**
 * Test support: real ConsensusRuntimes (Raft, in-memory stores) over the in-memory transport on real
 * time, each with NodeServices and an ApiServer on 127.0.0.1 with an OS-chosen port, so tests drive
 * the API with real `fetch` and `ws`.
 */
/**
 * A 1 MiB request body becomes a command of 1 MiB plus its encoding: the runtime and the engine must
 * take proposals somewhat larger than the API's body limit (the assembly has to do the same).
 */
const PROPOSAL_BYTES_MAX = 1024 * 1024 + 64 * 1024

export interface TestClusterOptions {
  readonly machine?: Omit<NodeMachineOptions, 'onObserverError'>
  readonly limits?: ApiLimits
  readonly auth?: ApiAuthOptions
  readonly requestTimeoutMs?: number
  readonly snapshotIntervalEntries?: number
  /** @default 10 (ticks of 15 ms) */
  readonly electionTimeoutTicks?: number
  /** How long adding a voter waits for its promotion before answering `learner`. @default 5,000 */
  readonly promotionWaitMs?: number
  /** Voters in the configuration that are never started (a cluster without quorum). @default 0 */
  readonly absentVoters?: number
}

export class TestNode {
  readonly registry = new Registry()
  readonly machine: NodeMachine
  readonly runtime: ConsensusRuntime<RaftMessage, RaftEngine>
  readonly services: NodeServices
  readonly api: ApiServer
  readonly observerErrors: Error[] = []
  url = ''
  private connector: PeerConnector | null = null
  private stopped = false

  constructor(
    readonly id: NodeId,
    readonly transport: MemTransport,
    readonly address: string,
    voters: readonly string[],
    seed: number,
    options: TestClusterOptions,
  ) {
    this.machine = createNodeMachine({
      ...options.machine,
      onObserverError: (error) => this.observerErrors.push(error),
    })
    const requestTimeoutMs = options.requestTimeoutMs ?? 3_000
    this.runtime = new ConsensusRuntime(
      {
        transport,
        logStore: new MemoryLogStore(),
        snapshotStore: new MemorySnapshotStore(),
        stateMachine: this.machine,
        clock: systemClock,
        engineFactory: raftEngineFactory({
          voters,
          random: new SeededRandom(seed),
          options: {
            electionTimeoutTicks: options.electionTimeoutTicks ?? 10,
            heartbeatTicks: 1,
            proposalBytesMax: PROPOSAL_BYTES_MAX,
          },
        }),
      },
      {
        tickIntervalMs: 15,
        requestTimeoutMs,
        forwardRetryMs: 200,
        proposalBytesMax: PROPOSAL_BYTES_MAX,
        snapshotIntervalEntries: options.snapshotIntervalEntries ?? 10_000,
      },
    )
    this.services = new NodeServices({
      runtime: this.runtime,
      machine: this.machine,
      localId: id,
      clock: systemClock,
      requestTimeoutMs,
      promotionWaitMs: options.promotionWaitMs ?? 5_000,
      reconcileIntervalMs: 50,
      membershipRetryMs: 20,
    })
    this.api = new ApiServer({
      services: this.services,
      registry: this.registry,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.auth ? { auth: options.auth } : {}),
    })
  }

  async start(peers: ReadonlyArray<readonly [NodeId, string]>): Promise<void> {
    this.connector = new PeerConnector(
      { transport: this.transport, clock: systemClock },
      { peers, redialIntervalMs: 50 },
    )
    this.connector.start()
    await this.runtime.start()
    const port = await this.api.listen('127.0.0.1', 0)
    this.url = `http://127.0.0.1:${port}`
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await this.api.close({ drainMs: 1_000 })
    this.services.stop()
    this.connector?.stop()
    await this.runtime.stop()
    await this.transport.close()
  }
}

export class TestCluster {
  readonly network = new MemoryNetwork()
  readonly nodes: TestNode[] = []
  private readonly tag = Math.floor(systemClock.wallNow() % 1e9).toString(36)
  private next = 0

  constructor(private readonly options: TestClusterOptions = {}) {}

  static async start(count: number, options: TestClusterOptions = {}): Promise<TestCluster> {
    const cluster = new TestCluster(options)
    const ids = Array.from({ length: count }, () => cluster.nextId())
    const transports = await Promise.all(ids.map((id) => cluster.openTransport(id)))
    const absent = Array.from({ length: options.absentVoters ?? 0 }, () => cluster.nextId())
    const voters = [...ids, ...absent].map((id) => id.hex)
    for (const [index, id] of ids.entries()) {
      cluster.nodes.push(
        new TestNode(
          id,
          transports[index]!.transport,
          transports[index]!.address,
          voters,
          index + 1,
          options,
        ),
      )
    }
    const addresses = cluster.nodes.map((node) => [node.id, node.address] as const)
    for (const node of cluster.nodes) await node.start(addresses.filter(([id]) => !id.equals(node.id)))
    for (const node of cluster.nodes) {
      node.services
        .bootstrapDirectory([{ id: node.id.hex, address: node.address, api: node.url }])
        .catch((error: unknown) => node.observerErrors.push(error as Error))
    }
    return cluster
  }

  /** A node that starts with no configuration (it learns it from the leader) and dials every member. */
  async startJoiner(): Promise<TestNode> {
    const id = this.nextId()
    const { transport, address } = await this.openTransport(id)
    const node = new TestNode(id, transport, address, [], 100 + this.next, this.options)
    await node.start(this.nodes.map((member) => [member.id, member.address] as const))
    this.nodes.push(node)
    return node
  }

  leader(): TestNode | undefined {
    return this.nodes.find((node) => node.runtime.running && node.runtime.status().role === 'leader')
  }

  followers(): TestNode[] {
    const leader = this.leader()
    return this.nodes.filter((node) => node !== leader && node.runtime.running)
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) await node.stop()
  }

  private nextId(): NodeId {
    this.next++
    return NodeId.fromHex(this.next.toString(16).padStart(2, '0').repeat(32))
  }

  private async openTransport(id: NodeId): Promise<{ transport: MemTransport; address: string }> {
    const transport = new MemTransport(
      { localId: id, upgrader: new PlaintextUpgrader(), memoryNetwork: this.network },
      { closeTimeoutMs: 200 },
    )
    const address = await transport.listen(`mem://api-${this.tag}-${id.hex.slice(0, 4)}`)
    return { transport, address }
  }
}
