import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import {
  NodeId,
  SeededRandom,
  noopMetrics,
  systemClock,
  type LogStore,
  type LogWrite,
  type Metrics,
  type Transport,
} from '@socketcloud/core'
import { ConsensusRuntime, PeerConnector, raftEngineFactory } from '@socketcloud/consensus'
import type { RaftEngine, RaftMessage } from '@socketcloud/consensus-raft'
import { keyValueStore } from '@socketcloud/state-machines'
import { FileLogStore, FileSnapshotStore } from '@socketcloud/storage'
import type { MemoryNetwork } from '@socketcloud/transport'
import { MemTransport, PlaintextUpgrader, TcpTransport } from '@socketcloud/transport'

/**
 * One real replica: a transport (in-memory or TCP on 127.0.0.1), a FileLogStore and FileSnapshotStore
 * in its own directory, the built-in key-value machine, the Raft engine and the consensus runtime, on
 * the system clock. `stop()` closes everything; a new RealNode on the same directory is a restart.
 */
export type TransportKind = 'mem' | 'tcp'

/** Test hooks: the transport's metrics registry, and a look at each log write as it is issued. */
export interface RealNodeHooks {
  readonly transportMetrics?: Metrics
  readonly beforeLogWrite?: (update: LogWrite) => void
}

const kv = keyValueStore()
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class RealNode {
  transport: Transport | null = null
  runtime: ConsensusRuntime<RaftMessage, RaftEngine> | null = null
  address = ''
  private connector: PeerConnector | null = null
  private logStore: FileLogStore | null = null
  private snapshotStore: FileSnapshotStore | null = null

  constructor(
    readonly id: NodeId,
    readonly directory: string,
    private readonly kind: TransportKind,
    private readonly memoryNetwork: MemoryNetwork,
    private readonly hooks: RealNodeHooks = {},
  ) {}

  /** Opens the transport and listens; the bound address is then known to the peers. */
  async listen(name: string): Promise<string> {
    const components = {
      localId: this.id,
      upgrader: new PlaintextUpgrader(),
      memoryNetwork: this.memoryNetwork,
      metrics: this.hooks.transportMetrics ?? noopMetrics,
    }
    this.transport =
      this.kind === 'tcp'
        ? new TcpTransport(components, { closeTimeoutMs: 500 })
        : new MemTransport(components, { closeTimeoutMs: 500 })
    this.address = await this.transport.listen(this.kind === 'tcp' ? 'tcp://127.0.0.1:0' : `mem://${name}`)
    return this.address
  }

  async start(voters: readonly NodeId[], peers: ReadonlyArray<readonly [NodeId, string]>): Promise<void> {
    const transport = this.transport!
    await mkdir(this.directory, { recursive: true })
    this.logStore = await FileLogStore.open(join(this.directory, 'log'))
    this.snapshotStore = await FileSnapshotStore.open(join(this.directory, 'snapshots'))
    const store = this.logStore
    const beforeLogWrite = this.hooks.beforeLogWrite
    const logStore: LogStore = beforeLogWrite
      ? {
          load: () => store.load(),
          write: (update, options) => {
            beforeLogWrite(update)
            return store.write(update, options)
          },
          compact: (index, term) => store.compact(index, term),
          close: () => store.close(),
        }
      : store
    this.runtime = new ConsensusRuntime(
      {
        transport,
        logStore,
        snapshotStore: this.snapshotStore,
        stateMachine: kv.create(),
        clock: systemClock,
        engineFactory: raftEngineFactory({
          voters: voters.map((voter) => voter.hex),
          random: new SeededRandom(this.id.bytes[0]! * 7919 + 17),
          options: { electionTimeoutTicks: 10, heartbeatTicks: 1 },
        }),
      },
      { tickIntervalMs: 15, snapshotIntervalEntries: 50, requestTimeoutMs: 10_000 },
    )
    this.connector = new PeerConnector({ transport, clock: systemClock }, { peers, redialIntervalMs: 50 })
    this.connector.start()
  }

  private stopped = false

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.connector?.stop()
    await this.runtime?.stop()
    await this.transport?.close()
    await this.logStore?.close()
    await this.snapshotStore?.close()
  }

  async put(key: string, value: string): Promise<number> {
    const bytes = await this.runtime!.submit(kv.encodeCommand('put', { key, value: encoder.encode(value) }))
    const result = kv.decodeCommandResult('put', bytes)
    if (!result.ok) throw new Error(`put ${key} failed: ${JSON.stringify(result)}`)
    return result.value.revision
  }

  async get(key: string, consistency: 'linearizable' | 'stale' = 'linearizable'): Promise<string | null> {
    const bytes = await this.runtime!.read(kv.encodeQuery('get', { key }), consistency)
    const result = kv.decodeQueryResult('get', bytes)
    if (!result.ok) throw new Error(`get ${key} failed`)
    return result.value.kv === null ? null : decoder.decode(result.value.kv.value)
  }
}

export function nodeIds(count: number): NodeId[] {
  return Array.from({ length: count }, (_, index) =>
    NodeId.fromHex((index + 1).toString(16).padStart(2, '0').repeat(32)),
  )
}
