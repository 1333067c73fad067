/**
 * Goal: a node added as a voter whose promotion did not finish within the call is still promoted
 * later by the leader (the request lives in the replicated directory, not in the call), the request
 * is cleared once it is a voter, and a node added with voter=false stays a learner. A node that
 * catches up from the leader's snapshot tells its open watches they were compacted (their history
 * restarts at the restored revision), and a watch from that revision on streams every later change.
 * Method: a three-node in-process Raft cluster whose add-member call does not wait for promotion
 * (promotionWaitMs 0), two joiners over the in-memory transport, conditions polled with vi.waitFor.
 */
import { afterAll, describe, expect, it, vi } from 'vitest'
import { TestCluster } from '../api/testing/cluster'
import { WatchClient, call } from '../api/testing/http'

let cluster: TestCluster | undefined
afterAll(async () => {
  await cluster?.stop()
})

describe('membership', () => {
  it('promotes a learner later through the directory, and leaves a non-voter learner alone', async () => {
    cluster = await TestCluster.start(3, { promotionWaitMs: 0 })
    const running = cluster
    await vi.waitFor(() => expect(running.leader()).toBeDefined(), { timeout: 10_000, interval: 10 })
    // A follower forwards admin calls to the leader's API, which it learns from the directory.
    await vi.waitFor(() => expect(running.followers()[0]!.services.leaderApi().api).not.toBeNull())
    const voter = await running.startJoiner()
    const learner = await running.startJoiner()
    const follower = running.followers()[0]!
    const added = await call(follower.url, 'POST', '/v1/cluster/members', {
      body: { id: voter.id.hex, address: voter.address, api: voter.url },
    })
    // The call does not wait; the leader's reconciler may already have promoted a fast learner.
    expect(added.status).toBe(200)
    expect(['learner', 'voter']).toContain(added.body['role'])
    const stays = await call(follower.url, 'POST', '/v1/cluster/members', {
      body: { id: learner.id.hex, address: learner.address, voter: false },
    })
    expect(stays).toMatchObject({ status: 200, body: { role: 'learner' } })

    await vi.waitFor(() => expect(running.leader()!.runtime.status().voters).toContain(voter.id.hex), {
      timeout: 10_000,
      interval: 20,
    })
    await vi.waitFor(() => {
      const records = running.leader()!.services.directoryRecords()
      expect(records.find((record) => record.id === voter.id.hex)?.promote).toBe(false)
    })
    const status = running.leader()!.runtime.status()
    expect(status.learners).toEqual([learner.id.hex])
    expect(running.leader()!.services.directoryMembers()).toContainEqual(
      expect.objectContaining({ id: learner.id.hex, role: 'learner', api: null }),
    )
    expect((await call(voter.url, 'PUT', '/v1/kv/from-new-voter', { raw: 'v' })).status).toBe(200)
  })
})

describe('a joiner restored from the leader snapshot', () => {
  let snapshotCluster: TestCluster | undefined
  afterAll(async () => {
    await snapshotCluster?.stop()
  })

  it('tells its watchers they were compacted, and a new watch from the restored revision streams on', async () => {
    snapshotCluster = await TestCluster.start(3, { snapshotIntervalEntries: 20 })
    const running = snapshotCluster
    await vi.waitFor(() => expect(running.leader()).toBeDefined(), { timeout: 10_000, interval: 10 })
    await vi.waitFor(() => expect(running.followers()[0]!.services.leaderApi().api).not.toBeNull())
    for (let index = 0; index < 40; index++) {
      expect(
        (await call(running.leader()!.url, 'PUT', `/v1/kv/snap%2F${index}`, { raw: `${index}` })).status,
      ).toBe(200)
    }
    const joiner = await running.startJoiner()
    const early = new WatchClient(`${joiner.url.replace('http', 'ws')}/v1/watch?prefix=snap%2F`)
    await early.opened
    await vi.waitFor(() => expect(early.frames).toEqual([{ type: 'synced', revision: 0 }]))
    const added = await call(running.leader()!.url, 'POST', '/v1/cluster/members', {
      body: { id: joiner.id.hex, address: joiner.address, api: joiner.url, voter: false },
    })
    expect(added.status).toBe(200)
    await vi.waitFor(() => expect(early.closeCode).toBe(4410), { timeout: 10_000, interval: 20 })
    const compacted = early.frames.at(-1)!
    expect(compacted).toMatchObject({ type: 'error', error: 'compacted' })
    const restoredRevision = (compacted['compact_revision'] as number) - 1
    expect(restoredRevision).toBeGreaterThanOrEqual(20)

    const resumed = new WatchClient(
      `${joiner.url.replace('http', 'ws')}/v1/watch?prefix=snap%2F&from_revision=${restoredRevision + 1}`,
    )
    await resumed.opened
    const put = await call(running.leader()!.url, 'PUT', '/v1/kv/snap%2Flate', { raw: 'late' })
    await vi.waitFor(() =>
      expect(resumed.events().map((event) => event['revision'])).toContain(put.body['revision']),
    )
    const revisions = resumed.events().map((event) => event['revision'] as number)
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b))
    expect(revisions[0]).toBe(restoredRevision + 1)
    resumed.close()
    for (const node of running.nodes) expect(node.observerErrors).toEqual([])
  })
})
