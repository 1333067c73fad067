import { randomInt } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { NodeId, SeededRandom, parseAddress, systemClock, toError, type Logger } from '@socketcloud/core'
import { ConsensusRuntime, PeerConnector, raftEngineFactory } from '@socketcloud/consensus'
import { FailureDetectorNode } from '@socketcloud/failure-detector'
import { loadOrCreateIdentity, NoiseUpgrader, type Ed25519Identity } from '@socketcloud/security'
import { FileLogStore, FileSnapshotStore } from '@socketcloud/storage'
import { TransportManager } from '@socketcloud/transport'
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { NodeConfig } from '../config/node-config'
import { readClusterState, writeClusterState, type KnownMember } from './cluster-state'
import { joinCluster } from './join'
import { MemberGate } from './member-gate'
import { PromMetrics } from './prom-metrics'
import { TransportChannel } from './transport-channel'
import { startServices, type NodeLayer } from './services-layer'

export const IDENTITY_FILE = 'identity.key'

/**
 * The API accepts bodies up to 1 MiB; the command around such a value (machine routing, session,
 * arguments) is slightly larger, so proposals may be 64 KiB larger than the largest body.
 */
const PROPOSAL_BYTES_MAX = 1024 * 1024 + 64 * 1024

/** A started node; `stop` is the graceful path SIGTERM takes. */
export interface RunningNode {
  readonly id: NodeId
  /** The node-to-node address the other members dial. */
  readonly address: string
  /** The HTTP API's base URL. */
  readonly apiUrl: string
  /** Drains requests, hands leadership over when leading, flushes, closes. Idempotent. */
  stop(): Promise<void>
}

/** Reads (or creates, on first start) the node's identity from its data directory. */
export async function nodeIdentity(dataDir: string): Promise<Ed25519Identity> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  return loadOrCreateIdentity(join(dataDir, IDENTITY_FILE))
}

/**
 * Assembles one node, in the order the architecture gives: identity → transport with the Noise
 * channel behind a member gate → failure detector → the Raft engine under the consensus runtime on
 * file storage → the built-in state machines → the HTTP/WebSocket API.
 */
export async function startNode(config: NodeConfig, logger: Logger): Promise<RunningNode> {
  const identity = await nodeIdentity(config.dataDir)
  const localId = identity.nodeId
  const log = logger.child({ node: localId.toShortString() })
  const saved = await readClusterState(config.dataDir)

  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const metrics = new PromMetrics(registry)

  const founders = config.peers.map((peer) => ({ id: peer.id, address: peer.address, api: null }))
  const known = new Map<string, KnownMember>()
  for (const member of [...founders, ...(saved?.members ?? [])]) {
    if (member.id !== localId.hex) known.set(member.id, member)
  }
  const gate = new MemberGate(new NoiseUpgrader({ identity }), [localId.hex, ...known.keys()])

  const transport = new TransportManager(
    { localId, upgrader: gate, clock: systemClock, logger: log, metrics },
    { protocols: ['tcp', 'ws'] },
  )
  const closers: (() => Promise<void>)[] = [() => transport.close()]
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) {
      await close().catch((error: unknown) =>
        log.error({ error: toError(error).message }, 'error while shutting down'),
      )
    }
  }
  try {
    const bound = await transport.listen(config.listen)
    const address = config.advertise ?? bound
    const raftView = new TransportChannel(transport, (type) => !type?.startsWith('fd.'))
    const detectorView = new TransportChannel(transport, (type) => type?.startsWith('fd.') === true)

    const logStore = await FileLogStore.open(join(config.dataDir, 'raft', 'wal'))
    closers.push(() => logStore.close())
    const snapshotStore = await FileSnapshotStore.open(join(config.dataDir, 'raft', 'snapshots'))
    closers.push(() => snapshotStore.close())

    const connector = new PeerConnector(
      { transport, clock: systemClock, logger: log, metrics },
      { peers: [...known.values()].map((member) => [NodeId.fromHex(member.id), member.address] as const) },
    )
    connector.start()
    closers.push(() => Promise.resolve(connector.stop()))

    const detector = new FailureDetectorNode(
      {
        transport: detectorView,
        clock: systemClock,
        random: new SeededRandom(randomInt(2 ** 31)),
        members: [localId, ...[...known.keys()].map((id) => NodeId.fromHex(id))],
        metrics,
        logger: log,
      },
      { heartbeatIntervalMs: config.heartbeatIntervalMs },
    )
    detector.start()
    closers.push(() => Promise.resolve(detector.leave()))

    const joining = saved === undefined && config.join !== undefined
    const founderIds =
      saved?.founders ?? (joining ? [] : [localId.hex, ...config.peers.map((peer) => peer.id)])
    const layer: NodeLayer = await startServices({
      config,
      localId,
      address,
      logger: log,
      registry,
      metrics,
      detector,
      createRuntime: (stateMachine) =>
        new ConsensusRuntime(
          {
            transport: raftView,
            logStore,
            snapshotStore,
            stateMachine,
            clock: systemClock,
            logger: log,
            metrics,
            engineFactory: raftEngineFactory({
              // A joining node starts with no configuration and learns it from the leader's log.
              voters: founderIds,
              random: new SeededRandom(randomInt(2 ** 31)),
              options: {
                electionTimeoutTicks: config.electionTimeoutTicks,
                heartbeatTicks: config.heartbeatTicks,
                proposalBytesMax: PROPOSAL_BYTES_MAX,
              },
            }),
          },
          {
            tickIntervalMs: config.tickIntervalMs,
            requestTimeoutMs: config.requestTimeoutMs,
            snapshotIntervalEntries: config.snapshotIntervalEntries,
            proposalBytesMax: PROPOSAL_BYTES_MAX,
          },
        ),
    })
    closers.push(() => layer.stopRuntime())

    // One write of cluster.json at a time, in the order the changes happened.
    let recorded: Promise<void> = Promise.resolve()
    const record = (founders: readonly string[]): void => {
      const snapshot = { founders, members: [...known.values()] }
      recorded = recorded
        .then(() => writeClusterState(config.dataDir, snapshot))
        .catch((error: unknown) =>
          log.error({ error: toError(error).message }, 'could not record the members'),
        )
    }
    const remember = (members: readonly KnownMember[]): void => {
      const current = new Set(members.map((member) => member.id))
      for (const member of members) {
        if (member.id === localId.hex) continue
        if (!known.has(member.id)) detector.membership.addMember(NodeId.fromHex(member.id), systemClock.now())
        known.set(member.id, member)
        gate.admit(member.id)
        connector.setPeer(NodeId.fromHex(member.id), member.address)
      }
      for (const id of [...known.keys()]) {
        if (current.has(id) || founders.some((founder) => founder.id === id)) continue
        known.delete(id)
        gate.revoke(id)
        connector.removePeer(NodeId.fromHex(id))
      }
      record(founderIds)
    }
    layer.onDirectory(remember)

    const apiUrl = await layer.listen(config.http.host, config.http.port, parseAddress(address).host)
    closers.push(() => layer.closeApi(config.drainTimeoutMs))
    log.info({ id: localId.hex, address, api: apiUrl }, 'node started')

    if (joining) {
      const members = await joinCluster({
        joinUrl: config.join!,
        ...(config.joinToken ? { token: config.joinToken } : {}),
        self: { id: localId.hex, address, api: apiUrl },
        logger: log,
        admit: (member) => {
          gate.admit(member.id)
          known.set(member.id, member)
          connector.setPeer(NodeId.fromHex(member.id), member.address)
          detector.membership.addMember(NodeId.fromHex(member.id), systemClock.now())
        },
      })
      for (const member of members) if (member.id !== localId.hex) known.set(member.id, member)
      record([])
      await recorded
    } else {
      if (saved === undefined) {
        record(founderIds)
        await recorded
      }
      layer.announce({ id: localId.hex, address, api: apiUrl }, founders)
    }

    let stopping: Promise<void> | undefined
    return {
      id: localId,
      address,
      apiUrl,
      stop: () => {
        stopping ??= (async () => {
          log.info('stopping: draining requests')
          await layer.handOver()
          await closeAll()
          log.info('stopped')
        })()
        return stopping
      },
    }
  } catch (error) {
    await closeAll()
    throw error
  }
}
