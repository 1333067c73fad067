import { hexToBytes, NodeId, systemClock, toError, type Logger, type StateMachine } from '@socketcloud/core'
import type { ConsensusRuntime } from '@socketcloud/consensus'
import type { RaftEngine, RaftMessage } from '@socketcloud/consensus-raft'
import type { FailureDetectorNode } from '@socketcloud/failure-detector'
import type { Registry } from 'prom-client'
import { ApiServer } from '../api'
import type { NodeConfig } from '../config/node-config'
import { createNodeMachine } from '../services/node-machine'
import { NodeServices } from '../services/node-services'
import type { KnownMember } from './cluster-state'
import { registerConsensusGauges } from './consensus-gauges'
import type { PromMetrics } from './prom-metrics'

export interface NodeLayerInit {
  readonly config: NodeConfig
  readonly localId: NodeId
  readonly address: string
  readonly logger: Logger
  readonly registry: Registry
  readonly metrics: PromMetrics
  readonly detector: FailureDetectorNode
  readonly createRuntime: (stateMachine: StateMachine) => ConsensusRuntime<RaftMessage, RaftEngine>
}

/** The replicated part of a node and its API, as the assembly drives them. */
export interface NodeLayer {
  /** Called with every member and its addresses whenever the replicated directory changes. */
  onDirectory(listener: (members: readonly KnownMember[]) => void): void
  /**
   * Starts the HTTP/WebSocket API; resolves with the base URL other nodes and clients use, which names
   * `reachableHost` when the API binds every interface (0.0.0.0 or ::).
   */
  listen(host: string, port: number, reachableHost: string): Promise<string>
  /** Writes this node's (and the founders') addresses into the directory once there is a leader. */
  announce(self: KnownMember, founders: readonly KnownMember[]): void
  /** Stops taking requests, finishes those in flight, and hands leadership over when leading. */
  handOver(): Promise<void>
  closeApi(drainTimeoutMs: number): Promise<void>
  stopRuntime(): Promise<void>
}

/** How long a stopping leader waits for a voter to take over (a transfer normally takes one round trip). */
const HANDOVER_WAIT_MS = 2_000

/** Starts the consensus runtime over the node's machine, then the services and the API over it. */
export async function startServices(init: NodeLayerInit): Promise<NodeLayer> {
  const { config, logger } = init
  const machine = createNodeMachine({
    onObserverError: (error) =>
      logger.error({ error: error.message }, 'a watch or directory observer failed'),
  })
  const runtime = init.createRuntime(machine)
  await runtime.start()
  registerConsensusGauges(init.registry, () => runtime.status())
  const services = new NodeServices({
    runtime,
    machine,
    localId: init.localId,
    clock: systemClock,
    logger,
    requestTimeoutMs: config.requestTimeoutMs,
    memberHealth: (id) => {
      const now = systemClock.now()
      const member = init.detector.membership.member(NodeId.fromHex(id))
      if (!member) return undefined
      const phi = init.detector.membership.phi(member.id, now) ?? 0
      return {
        state: member.status === 'alive' ? 'alive' : member.status === 'suspect' ? 'suspect' : 'dead',
        phi,
      }
    },
  })
  const api = new ApiServer({
    services,
    registry: init.registry,
    logger,
    ...(config.rootPublicKey ? { auth: { rootPublicKey: hexToBytes(config.rootPublicKey)! } } : {}),
  })
  let apiClosed: Promise<void> | undefined
  const closeApi = (drainTimeoutMs: number): Promise<void> =>
    (apiClosed ??= api.close({ drainMs: drainTimeoutMs }))

  return {
    onDirectory: (listener) => {
      services.events.on('directory', (members) =>
        listener(members.map((member) => ({ id: member.id, address: member.address, api: member.api }))),
      )
    },
    listen: async (host, port, reachableHost) => {
      const bound = await api.listen(host, port)
      const advertised = host === '0.0.0.0' || host === '::' ? reachableHost : host
      return `http://${advertised.includes(':') ? `[${advertised}]` : advertised}:${bound}`
    },
    announce: (self, founders) => {
      services
        .bootstrapDirectory([self, ...founders])
        .catch((error: unknown) =>
          logger.warn(
            { error: toError(error).message },
            'could not announce this node in the member directory',
          ),
        )
    },
    handOver: async () => {
      await closeApi(config.drainTimeoutMs)
      if (runtime.status().leader === init.localId.hex) {
        // Bounded: when the whole cluster is stopping, no voter will take over, and waiting the full
        // request timeout would only delay the shutdown.
        const transfer = services.transferLeader().then(
          ({ leader }) => logger.info({ to: leader }, 'handed leadership over'),
          (error: unknown) =>
            logger.warn({ error: toError(error).message }, 'could not hand leadership over before stopping'),
        )
        let timer: ReturnType<typeof setTimeout> | undefined
        const gaveUp = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            logger.warn({ waitedMs: HANDOVER_WAIT_MS }, 'stopping without handing leadership over')
            resolve()
          }, HANDOVER_WAIT_MS)
        })
        await Promise.race([transfer, gaveUp])
        clearTimeout(timer)
      }
      services.stop()
    },
    closeApi,
    stopRuntime: async () => {
      services.stop()
      await runtime.stop()
    },
  }
}
