import type { NodeId } from '@socketcloud/core'
import { SimNetwork, Simulation, simNodeId } from '@socketcloud/sim'
import type { SimNetworkOptions, SimTransport } from '@socketcloud/sim'
import { DhtNode } from '../dht-node'
import type { DhtInit } from '../dht-node'
import { TestEd25519Signer, TestEd25519Verifier } from './ed25519'
import { fillSteadyStateTables } from '../testing/steady-state'

/** Virtual time run between yields to the real event loop. */
const SLICE_MS = 250

export interface SimCluster {
  readonly sim: Simulation
  readonly network: SimNetwork
  readonly nodes: DhtNode[]
  readonly transports: SimTransport[]
  readonly ids: NodeId[]
  readonly addresses: string[]
  readonly verifier: TestEd25519Verifier
  /** Runs the simulation until `promise` settles (or fails the run after `timeMsMax` of virtual time). */
  settle<T>(promise: Promise<T>, timeMsMax?: number): Promise<T>
  /** Runs `durationMs` of virtual time, yielding to the real event loop between slices. */
  runFor(durationMs: number): Promise<void>
  /** Adds one node that is started but has not joined. */
  addNode(): Promise<DhtNode>
}

export interface SimClusterOptions {
  readonly seed: number
  readonly size: number
  readonly latencyMs?: number
  readonly network?: SimNetworkOptions
  readonly dht?: DhtInit
  /**
   * How routing tables come to be. `joins`: node 0 starts alone and the others join in batches, each
   * bootstrapping from a random node that already joined. `steady-state`: every table is filled from
   * the global membership as joins plus periodic refreshes leave it (each bucket holds up to k nodes
   * drawn at random from its id range), which costs no messages; used where joining 10,000 nodes one
   * by one would take many minutes. @default 'joins'
   */
  readonly build?: 'joins' | 'steady-state'
  /** Nodes joining at once. @default 50 */
  readonly joinBatch?: number
  /** Whether joiners refresh their buckets after the self-lookup. @default true */
  readonly refreshBuckets?: boolean
  /** Give every node a signer (needed for put). @default true */
  readonly signers?: boolean
  readonly onProgress?: (joined: number) => void
}

/**
 * A DHT network on the simulator, built by real joins: node 0 starts alone, then nodes join in
 * batches, each bootstrapping from one random node that already joined (never all from one seed).
 * Every message is encoded, carried by the simulated network and decoded, as in production.
 */
export async function buildSimCluster(options: SimClusterOptions): Promise<SimCluster> {
  const sim = new Simulation({ seed: options.seed, microtaskTurns: 8, eventsMax: 1_000_000_000 })
  const network = new SimNetwork(sim, {
    latencyMs: options.latencyMs ?? 10,
    connectionsMax: 1_000_000,
    dialTimeoutMs: 500,
    ...options.network,
  })
  const verifier = new TestEd25519Verifier()
  const random = sim.random.fork()
  const nodes: DhtNode[] = []
  const transports: SimTransport[] = []
  const ids: NodeId[] = []
  const addresses: string[] = []

  const settle = async <T>(promise: Promise<T>, timeMsMax = 600_000): Promise<T> => {
    const state: { outcome?: { ok: true; value: T } | { ok: false; error: unknown } } = {}
    promise.then(
      (value) => (state.outcome = { ok: true, value }),
      (error: unknown) => (state.outcome = { ok: false, error }),
    )
    // Run in slices of virtual time and yield to the event loop between them, so a long simulation
    // does not starve the test runner's own messages.
    const deadline = sim.now + timeMsMax
    for (;;) {
      await sim.runUntilAsync(() => state.outcome !== undefined, {
        timeMsMax: Math.min(SLICE_MS, deadline - sim.now),
      })
      if (state.outcome !== undefined || sim.now >= deadline || sim.pendingEvents === 0) break
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    const outcome = state.outcome
    if (!outcome) return sim.fail(`operation did not settle within ${timeMsMax} ms of virtual time`)
    if (!outcome.ok) throw outcome.error
    return outcome.value
  }

  const runFor = async (durationMs: number): Promise<void> => {
    const end = sim.now + durationMs
    while (sim.now < end) {
      await sim.runForAsync(Math.min(SLICE_MS, end - sim.now))
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }

  const addNode = async (): Promise<DhtNode> => {
    const index = nodes.length
    const id = simNodeId(`dht-${index}`)
    const transport = network.endpoint(id)
    const address = await transport.listen(`mem://dht-${index}`)
    const node = new DhtNode(
      {
        transport,
        clock: sim.clock,
        random: sim.random.fork(),
        verifier,
        ...(options.signers === false ? {} : { signer: new TestEd25519Signer() }),
      },
      options.dht,
    )
    node.start()
    nodes.push(node)
    transports.push(transport)
    ids.push(id)
    addresses.push(address)
    return node
  }

  await addNode()
  if (options.build === 'steady-state') {
    while (nodes.length < options.size) await addNode()
    fillSteadyStateTables(nodes, addresses, options.dht?.k ?? 20, random)
    return { sim, network, nodes, transports, ids, addresses, verifier, settle, runFor, addNode }
  }
  const batch = options.joinBatch ?? 50
  while (nodes.length < options.size) {
    const joinedBefore = nodes.length
    const joiners: Promise<unknown>[] = []
    for (let i = 0; i < batch && nodes.length < options.size; i++) {
      const node = await addNode()
      const seed = addresses[random.nextInt(joinedBefore)]!
      joiners.push(node.bootstrap([seed], { refreshBuckets: options.refreshBuckets ?? true }))
    }
    await settle(Promise.all(joiners))
    options.onProgress?.(nodes.length)
  }
  return { sim, network, nodes, transports, ids, addresses, verifier, settle, runFor, addNode }
}
