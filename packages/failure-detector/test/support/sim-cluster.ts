import { MemoryMetrics } from '@socketcloud/core'
import type { NodeId } from '@socketcloud/core'
import { SimNetwork, Simulation, simNodeId } from '@socketcloud/sim'
import type { NetworkFaults, SimTransport } from '@socketcloud/sim'
import { FailureDetectorNode } from '../../src/index'
import type { FailureDetectorInit } from '../../src/index'

export interface SimClusterOptions {
  readonly seed: number
  readonly size: number
  readonly faults?: NetworkFaults
  readonly init?: FailureDetectorInit
}

export interface SimCluster {
  readonly sim: Simulation
  readonly network: SimNetwork
  readonly ids: NodeId[]
  readonly transports: SimTransport[]
  readonly nodes: FailureDetectorNode[]
  readonly metrics: MemoryMetrics[]
}

/**
 * `size` FailureDetectorNodes, each on its own SimTransport endpoint of one SimNetwork, fully
 * connected, ticking on the simulation's virtual clock: the real driver, codec and transport
 * contract, on simulated time and faults.
 */
export async function startSimCluster(options: SimClusterOptions): Promise<SimCluster> {
  const sim = new Simulation({ seed: options.seed })
  const network = new SimNetwork(sim, options.faults ?? {})
  const ids = Array.from({ length: options.size }, (_, index) => simNodeId(`fd-${index}`))
  const transports = ids.map((id) => network.endpoint(id))
  await Promise.all(transports.map((transport, index) => transport.listen(`mem://fd-${index}`)))
  // Connect while the network is quiet: dials are not what these tests are about.
  const faults = options.faults
  network.setFaults({ dropRate: 0, duplicateRate: 0, reorderRate: 0 })
  const dials = transports.flatMap((transport, i) =>
    transports.slice(i + 1).map((_, j) => transport.dial(`mem://fd-${i + j + 1}`)),
  )
  await sim.runForAsync(200)
  await Promise.all(dials)
  if (faults) network.setFaults(faults)
  const metrics = ids.map(() => new MemoryMetrics())
  const nodes = transports.map(
    (transport, index) =>
      new FailureDetectorNode(
        { transport, clock: sim.clock, random: sim.random.fork(), members: ids, metrics: metrics[index] },
        options.init,
      ),
  )
  for (const node of nodes) node.start()
  return { sim, network, ids, transports, nodes, metrics }
}
