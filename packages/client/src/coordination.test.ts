import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { LockHeldError } from './errors'
import { ScriptedCluster } from './testing/scripted-cluster'
import type { ScriptedEndpoint } from './testing/scripted-cluster'
import { recordingClient, rejectionOf } from './testing/helpers'

// Goal: counters, locks, cluster administration and health send the bodies API.md specifies and return
// typed results. Method: a scripted node on 127.0.0.1 serving the contract from memory.
let cluster: ScriptedCluster
let node: ScriptedEndpoint

beforeAll(async () => {
  cluster = await ScriptedCluster.start(1)
  node = cluster.endpoints[0]!
})
afterAll(async () => {
  await cluster.stop()
})
beforeEach(() => {
  node.requests.length = 0
  node.clearScript()
})

const lastRequest = () => node.requests.at(-1)!
const lastJson = () => JSON.parse(lastRequest().body.toString('utf8')) as unknown

describe('counters', () => {
  it('adds positive and negative deltas as JSON and reads the value', async () => {
    const { client } = recordingClient(cluster.urls)
    expect(await client.counter.get('visits/é')).toBe(0)
    expect(lastRequest().url).toBe('/v1/counters/visits%2F%C3%A9')
    expect(await client.counter.add('visits/é', 10)).toBe(10)
    expect(lastRequest().headers['content-type']).toBe('application/json')
    expect(lastJson()).toEqual({ delta: 10 })
    expect(await client.counter.add('visits/é', -3)).toBe(7)
    expect(await client.counter.get('visits/é', { consistency: 'stale' })).toBe(7)
    expect(lastRequest().url).toBe('/v1/counters/visits%2F%C3%A9?consistency=stale')
  })

  it('refuses a delta that is not a safe integer before sending', async () => {
    const { client } = recordingClient(cluster.urls)
    for (const delta of [1.5, Number.NaN, 2 ** 60]) {
      expect(await rejectionOf(() => client.counter.add('c', delta))).toMatchObject({
        code: 'invalid_argument',
      })
    }
    expect(node.requests.filter((request) => request.url.startsWith('/v1/counters'))).toHaveLength(0)
  })

  it('reports overflow', async () => {
    const { client } = recordingClient(cluster.urls)
    await client.counter.add('big', Number.MAX_SAFE_INTEGER)
    expect(await rejectionOf(() => client.counter.add('big', 1))).toMatchObject({
      code: 'overflow',
      status: 409,
    })
  })
})

describe('locks', () => {
  it('acquires, is refused while held, renews, releases, and lets the next owner in with a larger token', async () => {
    const { client } = recordingClient(cluster.urls)
    const lease = await client.lock.acquire('jobs/1', { owner: 'alice', ttlMs: 5000 })
    expect(lastRequest().url).toBe('/v1/locks/jobs%2F1/acquire')
    expect(lastJson()).toEqual({ owner: 'alice', ttl_ms: 5000 })
    expect(lease.expiresAt).toBe(cluster.nowMs + 5000)

    const held = await rejectionOf(() => client.lock.acquire('jobs/1', { owner: 'bob', ttlMs: 5000 }))
    expect(held).toBeInstanceOf(LockHeldError)
    expect(held).toMatchObject({ holder: 'alice', expiresAt: lease.expiresAt })

    expect(await client.lock.get('jobs/1')).toEqual({
      holder: 'alice',
      fencingToken: lease.fencingToken,
      expiresAt: lease.expiresAt,
      now: cluster.nowMs,
    })

    await client.lock.get('jobs/1', { consistency: 'stale' })
    expect(lastRequest().url).toBe('/v1/locks/jobs%2F1?consistency=stale')

    cluster.nowMs += 1000
    const renewed = await client.lock.renew('jobs/1', {
      owner: 'alice',
      fencingToken: lease.fencingToken,
      ttlMs: 5000,
    })
    expect(lastJson()).toEqual({ owner: 'alice', fencing_token: lease.fencingToken, ttl_ms: 5000 })
    expect(renewed).toEqual({ fencingToken: lease.fencingToken, expiresAt: cluster.nowMs + 5000 })

    expect(
      await rejectionOf(() =>
        client.lock.release('jobs/1', { owner: 'bob', fencingToken: lease.fencingToken }),
      ),
    ).toMatchObject({
      code: 'not_holder',
      status: 409,
    })
    await client.lock.release('jobs/1', { owner: 'alice', fencingToken: lease.fencingToken })
    expect(lastJson()).toEqual({ owner: 'alice', fencing_token: lease.fencingToken })
    expect(await client.lock.get('jobs/1')).toMatchObject({
      holder: null,
      fencingToken: null,
      expiresAt: null,
    })

    const next = await client.lock.acquire('jobs/1', { owner: 'bob', ttlMs: 100 })
    expect(next.fencingToken).toBeGreaterThan(lease.fencingToken)
    cluster.nowMs += 200
    expect(
      await rejectionOf(() =>
        client.lock.renew('jobs/1', { owner: 'bob', fencingToken: next.fencingToken, ttlMs: 100 }),
      ),
    ).toMatchObject({ code: 'lease_expired' })
  })

  it('validates owner and ttl before sending', async () => {
    const { client } = recordingClient(cluster.urls)
    for (const options of [
      { owner: '', ttlMs: 10 },
      { owner: 'x'.repeat(257), ttlMs: 10 },
      { owner: 'a', ttlMs: 0 },
      { owner: 'a', ttlMs: 3_600_001 },
    ]) {
      expect(await rejectionOf(() => client.lock.acquire('l', options))).toMatchObject({
        code: 'invalid_argument',
      })
    }
  })
})

describe('cluster and health', () => {
  it('reads the cluster status with every member', async () => {
    const { client } = recordingClient(cluster.urls)
    const status = await client.cluster.status()
    expect(status).toMatchObject({ id: 'aa', leader: 'aa', term: 3, commitIndex: 42, appliedIndex: 41 })
    expect(status.members).toEqual([
      {
        id: 'aa',
        address: 'tcp://127.0.0.1:7100',
        api: node.url,
        role: 'voter',
        state: 'self',
        phi: null,
        leader: true,
      },
      {
        id: 'bb',
        address: 'tcp://127.0.0.1:7101',
        api: null,
        role: 'learner',
        state: 'suspect',
        phi: 3.5,
        leader: false,
      },
    ])
  })

  it('adds and removes members and transfers leadership', async () => {
    const { client } = recordingClient(cluster.urls)
    expect(
      await client.cluster.addMember({
        id: 'cc',
        address: 'tcp://127.0.0.1:7102',
        api: 'http://127.0.0.1:7072',
      }),
    ).toEqual({
      id: 'cc',
      role: 'voter',
    })
    expect(lastJson()).toEqual({
      id: 'cc',
      address: 'tcp://127.0.0.1:7102',
      api: 'http://127.0.0.1:7072',
      voter: true,
    })
    expect(lastRequest().headers['x-session-id']).toBeUndefined()
    expect(
      await client.cluster.addMember({ id: 'dd', address: 'tcp://127.0.0.1:7103', voter: false }),
    ).toEqual({ id: 'dd', role: 'learner' })
    expect(
      await rejectionOf(() => client.cluster.addMember({ id: 'exists', address: 'tcp://x' })),
    ).toMatchObject({ code: 'member_exists' })
    expect(await client.cluster.removeMember('bb')).toBe('bb')
    expect(lastRequest()).toMatchObject({ method: 'DELETE', url: '/v1/cluster/members/bb' })
    expect(await rejectionOf(() => client.cluster.removeMember('zz'))).toMatchObject({
      code: 'not_member',
      status: 404,
    })
    expect(await client.cluster.transferLeader({ to: 'cc' })).toBe('cc')
    expect(lastJson()).toEqual({ to: 'cc' })
    expect(await client.cluster.transferLeader()).toBe('bb')
    expect(lastJson()).toEqual({})
  })

  it('reads health with the endpoint that answered', async () => {
    const { client } = recordingClient(cluster.urls)
    expect(await client.health()).toEqual({
      status: 'ok',
      id: 'aa',
      role: 'leader',
      leader: 'aa',
      endpoint: node.url,
    })
    expect(lastRequest().url).toBe('/health')
  })
})
