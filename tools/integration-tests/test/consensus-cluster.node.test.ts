import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryMetrics } from '@socketcloud/core'
import { MemoryNetwork } from '@socketcloud/transport'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RealNode, nodeIds, type RealNodeHooks, type TransportKind } from './real-cluster'

// Goal: three real runtimes — real transport, real files, the built-in key-value store — elect a
// leader, replicate through followers, survive one replica being killed, and bring it back up to date
// when it restarts, from a snapshot because the leader compacted its log past the replica's last entry.
// Method: in one process, over the in-memory transport and over TCP on 127.0.0.1 (ports from the OS),
// with FileLogStore/FileSnapshotStore in a temporary directory; waits are on conditions, never sleeps.
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function startCluster(kind: TransportKind, hooksOf: (index: number) => RealNodeHooks = () => ({})) {
  const root = await mkdtemp(join(tmpdir(), 'socketcloud-consensus-'))
  cleanups.push(() => rm(root, { recursive: true, force: true }))
  const memoryNetwork = new MemoryNetwork()
  const ids = nodeIds(3)
  const nodes = ids.map(
    (id, index) => new RealNode(id, join(root, `node-${index}`), kind, memoryNetwork, hooksOf(index)),
  )
  cleanups.push(async () => {
    for (const node of nodes) await node.stop()
  })
  const addresses = await Promise.all(
    nodes.map((node, index) => node.listen(`${kind}-node-${index}-${root.slice(-6)}`)),
  )
  const peersOf = (self: number) =>
    ids.map((id, index) => [id, addresses[index]!] as const).filter((_, index) => index !== self)
  for (const [index, node] of nodes.entries()) await node.start(ids, peersOf(index))
  for (const node of nodes) await node.runtime!.start()
  return { root, ids, nodes, addresses, memoryNetwork, peersOf }
}

function leaderOf(nodes: readonly RealNode[]): RealNode | undefined {
  return nodes.find((node) => node.runtime?.running && node.runtime.engine.status().role === 'leader')
}

describe.each(['mem', 'tcp'] as const)('three runtimes over %s with file stores', (kind) => {
  it('replicates, and a killed replica restarts and catches up from a snapshot', async () => {
    const { ids, nodes, memoryNetwork, peersOf } = await startCluster(kind)
    await vi.waitFor(() => expect(leaderOf(nodes)).toBeDefined(), { timeout: 10_000, interval: 10 })
    const leader = leaderOf(nodes)!
    const followers = nodes.filter((node) => node !== leader)

    for (let index = 0; index < 10; index++) await followers[index % 2]!.put(`key-${index}`, `value-${index}`)
    expect(await leader.get('key-9')).toBe('value-9')

    const victimIndex = nodes.indexOf(followers[1]!)
    const victim = nodes[victimIndex]!
    await victim.stop()

    const snapshots: number[] = []
    leader.runtime!.events.on('snapshot', ({ index }) => snapshots.push(index))
    leader.runtime!.events.on('failed', ({ error }) => console.error('leader failed', error))
    const writes: Promise<number>[] = []
    for (let index = 10; index < 200; index++) writes.push(leader.put(`key-${index}`, `value-${index}`))
    await Promise.all(writes)
    await vi.waitFor(() => expect(snapshots.length).toBeGreaterThan(0), { timeout: 5_000, interval: 10 })

    const restarted = new RealNode(ids[victimIndex]!, victim.directory, kind, memoryNetwork)
    nodes[victimIndex] = restarted
    await restarted.listen(`${kind}-restarted-${victimIndex}-${Date.now()}`)
    await restarted.start(ids, peersOf(victimIndex))
    const restored: Array<{ index: number; source: string }> = []
    restarted.runtime!.events.on('restored', (event) => restored.push(event))
    await restarted.runtime!.start()
    await vi.waitFor(
      () => expect(restarted.runtime!.appliedIndex).toBeGreaterThanOrEqual(leader.runtime!.appliedIndex),
      { timeout: 15_000, interval: 10 },
    )
    expect(restored.some((event) => event.source === 'leader')).toBe(true)
    expect(await restarted.get('key-199', 'stale')).toBe('value-199')
    expect(await restarted.get('key-0', 'stale')).toBe('value-0')
    await restarted.put('after-restart', 'yes')
    expect(await leader.get('after-restart')).toBe('yes')
    expect(await restarted.get('after-restart')).toBe('yes')
  })
})

describe("the leader's commit path over TCP", () => {
  it('has its appends on the sockets before its own log write starts', async () => {
    // The followers' fsyncs then run alongside the leader's own instead of after it was issued.
    const metrics = [new MemoryMetrics(), new MemoryMetrics(), new MemoryMetrics()]
    const sentAtWrite: Array<{ node: number; sentBefore: number; sentAtWrite: number }> = []
    const submitted = { node: -1, sentBefore: 0 }
    const messagesOut = (index: number) => metrics[index]!.total('socketcloud_transport_messages_out_total')
    const { nodes } = await startCluster('tcp', (index) => ({
      transportMetrics: metrics[index]!,
      beforeLogWrite: (update) => {
        if (index !== submitted.node || !update.entries?.length) return
        sentAtWrite.push({ node: index, sentBefore: submitted.sentBefore, sentAtWrite: messagesOut(index) })
      },
    }))
    await vi.waitFor(() => expect(leaderOf(nodes)).toBeDefined(), { timeout: 10_000, interval: 10 })
    const leader = leaderOf(nodes)!
    const leaderIndex = nodes.indexOf(leader)
    await leader.put('warm-up', 'session')
    for (let index = 0; index < 20; index++) {
      sentAtWrite.length = 0
      submitted.node = leaderIndex
      submitted.sentBefore = messagesOut(leaderIndex)
      await leader.put(`key-${index}`, 'value')
      submitted.node = -1
      // The put's entry was written once on the leader, and by then both appends were on the wire.
      expect(sentAtWrite).toHaveLength(1)
      expect(sentAtWrite[0]!.sentAtWrite - sentAtWrite[0]!.sentBefore).toBeGreaterThanOrEqual(2)
    }
  })
})
