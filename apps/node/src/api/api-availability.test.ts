/**
 * Goal: a client can tell "not applied" from "unknown" when the cluster cannot commit: a write that
 * was proposed but not committed in time is 504 `timeout` with outcome `unknown`; with no leader at
 * all it is 503 `no_leader`, `not_applied`, with Retry-After; stale reads still answer. Closing the
 * server drains: it stops accepting, finishes the request in flight and closes watches with 1001.
 * Method: real Raft clusters on the in-memory transport; followers are stopped to take the quorum
 * away (a long election timeout keeps the old leader leading for a while); real fetch and `ws`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TestCluster } from './testing/cluster'
import { WatchClient, call, rawExchange } from './testing/http'

const clusters: TestCluster[] = []
afterEach(async () => {
  for (const cluster of clusters.splice(0)) await cluster.stop()
})

describe('availability errors', () => {
  it('answers 504 unknown while a leader without quorum holds on, then 503 no_leader once it stepped down', async () => {
    const cluster = await TestCluster.start(3, { electionTimeoutTicks: 60, requestTimeoutMs: 300 })
    clusters.push(cluster)
    await vi.waitFor(() => expect(cluster.leader()).toBeDefined(), { timeout: 15_000, interval: 10 })
    const leader = cluster.leader()!
    expect((await call(leader.url, 'PUT', '/v1/kv/before', { raw: 'v' })).status).toBe(200)
    for (const follower of cluster.followers()) await follower.stop()
    // CheckQuorum makes the leader step down after an election timeout (60 ticks of 15 ms ≥ 900 ms);
    // until then its proposals cannot commit and time out after 300 ms.
    const timedOut = await call(leader.url, 'PUT', '/v1/kv/during', { raw: 'v' })
    expect(timedOut).toMatchObject({ status: 504, body: { error: 'timeout', outcome: 'unknown' } })
    await vi.waitFor(() => expect(leader.runtime.status().leader).toBeNull(), {
      timeout: 10_000,
      interval: 20,
    })
    const refused = await call(leader.url, 'PUT', '/v1/kv/after', { raw: 'v' })
    expect(refused).toMatchObject({ status: 503, body: { error: 'no_leader', outcome: 'not_applied' } })
    expect(refused.headers.get('retry-after')).toBe('1')
    expect((await call(leader.url, 'GET', '/v1/kv/before')).status).toBe(503)
    const stale = await fetch(`${leader.url}/v1/kv/before?consistency=stale`)
    expect(await stale.text()).toBe('v')
    expect((await call(leader.url, 'GET', '/health')).body).toMatchObject({ status: 'ok', leader: null })
    expect(await call(leader.url, 'POST', '/v1/cluster/transfer-leader')).toMatchObject({
      status: 503,
      body: { error: 'no_leader' },
    })
  })

  it('drains on close: refuses new connections, finishes the request in flight, closes watches with 1001', async () => {
    const cluster = await TestCluster.start(1, { absentVoters: 2, requestTimeoutMs: 800 })
    clusters.push(cluster)
    const node = cluster.nodes[0]!
    const watcher = new WatchClient(`${node.url.replace('http', 'ws')}/v1/watch`)
    await watcher.opened
    const inFlight = call(node.url, 'PUT', '/v1/kv/pending', { raw: 'v' })
    await vi.waitFor(() => expect(node.api.inflightRequests).toBe(1))
    const closing = node.api.close({ drainMs: 5_000 })
    await vi.waitFor(() => expect(watcher.closeCode).toBe(1001), { timeout: 5_000 })
    const port = Number(new URL(node.url).port)
    await expect(rawExchange(port, ['GET /health HTTP/1.1\r\nHost: x\r\n\r\n'])).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    })
    // Never proposed (no leader): the in-flight request still gets its answer before the server closes.
    expect(await inFlight).toMatchObject({
      status: 503,
      body: { error: 'no_leader', outcome: 'not_applied' },
    })
    await closing
  })
})
