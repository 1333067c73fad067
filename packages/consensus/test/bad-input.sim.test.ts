import { Codec, ConsensusError, DecodeError, type SocketCloudError } from '@socketcloud/core'
import { RaftMessageCodec } from '@socketcloud/consensus-raft'
import { simNodeId } from '@socketcloud/sim'
import { describe, expect, it } from 'vitest'
import { encodeJson } from './kv-machine'
import { SimCluster, type SimNode } from './sim-cluster'

// Goal: bad input at the runtime's boundary — a message from a non-member, a future term from a
// non-member, garbage, a forged sender, a malformed committed entry, an oversized proposal — is
// refused with a typed error, counted in metrics, and changes nothing; the cluster keeps serving.
// Method: a healthy 3-node simulated cluster plus an outsider endpoint that dials a follower and
// sends hand-made envelopes.
const envelopes = new Codec()
const raftCodec = new RaftMessageCodec()

async function healthyCluster() {
  const cluster = new SimCluster({ seed: 99, size: 3 })
  await cluster.startAll()
  const { sim } = cluster
  expect(await sim.runUntilAsync(() => cluster.leader() !== null, { timeMsMax: 5_000 })).toBe(true)
  const leader = cluster.leader()!
  await sim.await(cluster.put(leader, 'k', 'v0'))
  const follower = cluster.nodes.find((node) => node !== leader)!
  await sim.runUntilAsync(() => follower.runtime!.appliedIndex === leader.runtime!.appliedIndex)
  const outsider = cluster.network.endpoint(simNodeId('outsider'))
  await sim.await(outsider.dial(follower.address))
  const refused: SocketCloudError[] = []
  follower.runtime!.events.on('refused', ({ error }) => refused.push(error))
  return { cluster, sim, leader, follower, outsider, refused }
}

function fingerprint(node: SimNode) {
  const status = node.runtime!.engine.status()
  return {
    term: status.term,
    leader: status.leader,
    commitIndex: status.commitIndex,
    voters: status.voters,
    durable: node.disk.durableLogState().hardState,
    lastIndex: node.disk.durableLogState().entries.at(-1)?.index,
  }
}

describe('the runtime boundary refuses bad input', () => {
  it('refuses a vote with a future term from a non-member and changes nothing', async () => {
    const { sim, follower, outsider, refused } = await healthyCluster()
    const before = fingerprint(follower)
    const vote = {
      type: 'vote',
      term: before.term + 1_000,
      lastIndex: 1e9,
      lastTerm: before.term + 1_000,
      transfer: true,
    } as const
    outsider.send(
      follower.id,
      envelopes.encode({
        type: raftCodec.typeOf(vote),
        sender: outsider.localId,
        payload: raftCodec.encode(vote),
      }),
    )
    await sim.runForAsync(30)
    expect(refused).toHaveLength(1)
    expect(refused[0]).toBeInstanceOf(ConsensusError)
    expect(refused[0]!.code).toBe('NOT_MEMBER')
    expect(
      follower.metrics.value('socketcloud_consensus_messages_refused_total', { reason: 'not-member' }),
    ).toBe(1)
    expect(fingerprint(follower)).toEqual(before)
  })

  it('refuses an append from a non-member while a leader is known', async () => {
    const { sim, follower, outsider, refused } = await healthyCluster()
    const before = fingerprint(follower)
    const append = {
      type: 'append',
      term: before.term,
      prevIndex: before.commitIndex,
      prevTerm: before.term,
      entries: [
        { index: before.commitIndex + 1, term: before.term, kind: 'command', data: new Uint8Array([1]) },
      ],
      commit: before.commitIndex + 1,
    } as const
    outsider.send(
      follower.id,
      envelopes.encode({
        type: raftCodec.typeOf(append),
        sender: outsider.localId,
        payload: raftCodec.encode(append),
      }),
    )
    await sim.runForAsync(30)
    expect(refused.map((error) => error.code)).toEqual(['NOT_MEMBER'])
    expect(fingerprint(follower)).toEqual(before)
  })

  it('refuses a forwarded submission from a non-member without proposing it', async () => {
    const { sim, cluster, leader, outsider, refused } = await healthyCluster()
    await sim.await(outsider.dial(leader.address))
    const leaderRefused: SocketCloudError[] = []
    leader.runtime!.events.on('refused', ({ error }) => leaderRefused.push(error))
    const before = fingerprint(leader)
    const payload = {
      id: 1,
      op: 'command',
      s: '1',
      q: 1,
      a: 1,
      d: encodeJson({ op: 'put', key: 'k', value: 'evil' }),
    }
    outsider.send(
      leader.id,
      envelopes.encode({ type: 'consensus.submit', sender: outsider.localId, payload }),
    )
    await sim.runForAsync(50)
    expect(leaderRefused.map((error) => error.code)).toEqual(['NOT_MEMBER'])
    expect(fingerprint(leader)).toEqual(before)
    expect(await sim.await(cluster.get(leader, 'k'))).toBe('v0')
    expect(refused).toHaveLength(0)
  })

  it('refuses garbage, a forged sender and an invalid field with DecodeError', async () => {
    const { sim, leader, follower, outsider, refused } = await healthyCluster()
    const before = fingerprint(follower)
    outsider.send(follower.id, new Uint8Array([0xc1, 0xff, 0x00]))
    const heartbeat = { type: 'heartbeat', term: before.term, commit: 0 }
    outsider.send(
      follower.id,
      envelopes.encode({ type: 'raft.heartbeat', sender: leader.id, payload: heartbeat }),
    )
    outsider.send(
      follower.id,
      envelopes.encode({ type: 'raft.append', sender: outsider.localId, payload: { term: 'one' } }),
    )
    outsider.send(
      follower.id,
      envelopes.encode({ type: 'consensus.submit', sender: outsider.localId, payload: { id: -1 } }),
    )
    await sim.runForAsync(30)
    expect(refused).toHaveLength(4)
    for (const error of refused) expect(error).toBeInstanceOf(DecodeError)
    expect(follower.metrics.value('socketcloud_consensus_messages_refused_total', { reason: 'decode' })).toBe(
      3,
    )
    expect(
      follower.metrics.value('socketcloud_consensus_messages_refused_total', { reason: 'sender-mismatch' }),
    ).toBe(1)
    expect(fingerprint(follower)).toEqual(before)
  })

  it('applies a malformed committed entry as a no-op on every replica and keeps serving', async () => {
    const { sim, cluster, leader } = await healthyCluster()
    const machineApplies = cluster.nodes.map((node) => node.machine!.applied)
    const malformed: number[] = []
    for (const node of cluster.nodes)
      node.runtime!.events.on('malformed-entry', ({ index }) => malformed.push(index))
    const proposed = await sim.await(
      leader.runtime!.control((engine) => engine.propose(new Uint8Array([0x92, 0x01]), 'garbage')),
    )
    expect(proposed.ok).toBe(true)
    await sim.runUntilAsync(() => malformed.length === 3, { timeMsMax: 2_000 })
    expect(malformed).toHaveLength(3)
    expect(new Set(malformed).size).toBe(1)
    expect(cluster.nodes.map((node) => node.machine!.applied)).toEqual(machineApplies)
    for (const node of cluster.nodes) {
      expect(node.metrics.value('socketcloud_consensus_malformed_entries_total')).toBe(1)
    }
    await sim.await(cluster.put(leader, 'k', 'v1'))
    expect(await sim.await(cluster.get(leader, 'k'))).toBe('v1')
  })

  it('refuses an oversized proposal with PROPOSAL_TOO_LARGE before it reaches the log', async () => {
    const { sim, leader, follower } = await healthyCluster()
    const before = fingerprint(leader)
    const oversized = new Uint8Array(1024 * 1024 + 1)
    await expect(leader.runtime!.submit(oversized)).rejects.toMatchObject({ code: 'PROPOSAL_TOO_LARGE' })
    await expect(follower.runtime!.submit(oversized)).rejects.toMatchObject({ code: 'PROPOSAL_TOO_LARGE' })
    await expect(leader.runtime!.read(oversized)).rejects.toBeInstanceOf(ConsensusError)
    await sim.runForAsync(50)
    expect(fingerprint(leader)).toEqual(before)
  })
})
