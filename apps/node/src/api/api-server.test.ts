/**
 * Goal: every endpoint of the API contract (API.md) behaves as written on a real three-node Raft
 * cluster — writes through followers (forwarded), linearizable and stale reads, compare-and-set, list,
 * counters, locks (one holder, increasing tokens, expiry hands over), sessions that make a retried
 * write apply once, watches in revision order that resume and report compaction, cluster status,
 * leader transfer, and membership (a fourth node joins as a learner through a follower and is
 * promoted; a member is removed) — and every kind of bad input is refused with the right error while
 * the node keeps serving.
 * Method: three ConsensusRuntimes over the in-memory transport on real time, each with NodeServices
 * and an ApiServer on 127.0.0.1 (port from the OS), driven with real fetch, raw TCP and `ws`. Waits are
 * on conditions (vi.waitFor), never sleeps.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { TestCluster, type TestNode } from './testing/cluster'
import { WatchClient, call, rawExchange } from './testing/http'

const HISTORY_EVENTS_MAX = 40
let cluster: TestCluster

beforeAll(async () => {
  cluster = await TestCluster.start(3, { machine: { watchHistoryEventsMax: HISTORY_EVENTS_MAX } })
  await vi.waitFor(() => expect(cluster.leader()).toBeDefined(), { timeout: 10_000, interval: 10 })
  // The founders' directory records are written once a leader exists.
  await vi.waitFor(
    () => {
      for (const node of cluster.nodes) expect(node.services.directoryMembers()).toHaveLength(3)
    },
    { timeout: 10_000, interval: 20 },
  )
})

afterAll(async () => {
  await cluster?.stop()
})

const leader = (): TestNode => cluster.leader()!
const follower = (): TestNode => cluster.followers()[0]!

describe('key-value', () => {
  it('puts through a follower and reads back everywhere with revision headers', async () => {
    const put = await call(follower().url, 'PUT', '/v1/kv/greeting', { raw: 'hello' })
    expect(put.status).toBe(200)
    const revision = put.body['revision'] as number
    expect(revision).toBeGreaterThan(0)
    for (const node of cluster.nodes) {
      const response = await fetch(`${node.url}/v1/kv/greeting`)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('application/octet-stream')
      expect(await response.text()).toBe('hello')
      expect(Number(response.headers.get('x-revision'))).toBe(revision)
      expect(Number(response.headers.get('x-create-revision'))).toBe(revision)
      expect(response.headers.get('x-version')).toBe('1')
      expect(Number(response.headers.get('x-store-revision'))).toBeGreaterThanOrEqual(revision)
    }
    await vi.waitFor(async () => {
      const stale = await fetch(`${cluster.followers()[1]!.url}/v1/kv/greeting?consistency=stale`)
      expect(await stale.text()).toBe('hello')
    })
  })

  it('stores arbitrary bytes under percent-encoded UTF-8 keys', async () => {
    const value = Uint8Array.from({ length: 256 }, (_, index) => index)
    const key = encodeURIComponent('dir/ünïcødé key?€')
    expect((await call(leader().url, 'PUT', `/v1/kv/${key}`, { raw: value })).status).toBe(200)
    const response = await fetch(`${follower().url}/v1/kv/${key}`)
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(value)
  })

  it('answers 404 for a missing key, on GET and DELETE', async () => {
    expect(await call(follower().url, 'GET', '/v1/kv/never-written')).toMatchObject({
      status: 404,
      body: { error: 'not_found' },
    })
    expect((await call(follower().url, 'DELETE', '/v1/kv/never-written')).status).toBe(404)
  })

  it('compare-and-sets on the mod revision, for puts and deletes', async () => {
    const url = follower().url
    const created = await call(url, 'PUT', '/v1/kv/cas?prev_revision=0', { raw: 'first' })
    expect(created.status).toBe(200)
    const first = created.body['revision'] as number
    expect(await call(url, 'PUT', '/v1/kv/cas?prev_revision=0', { raw: 'again' })).toMatchObject({
      status: 409,
      body: { error: 'revision_mismatch', current: first },
    })
    const second = await call(url, 'PUT', `/v1/kv/cas?prev_revision=${first}`, { raw: 'second' })
    expect(second.status).toBe(200)
    const secondRevision = second.body['revision'] as number
    expect(await call(url, 'DELETE', `/v1/kv/cas?prev_revision=${first}`)).toMatchObject({
      status: 409,
      body: { error: 'revision_mismatch', current: secondRevision },
    })
    expect((await call(url, 'DELETE', `/v1/kv/cas?prev_revision=${secondRevision}`)).status).toBe(200)
    expect(await call(url, 'PUT', '/v1/kv/cas?prev_revision=7', { raw: 'x' })).toMatchObject({
      status: 409,
      body: { current: 0 },
    })
    expect((await call(url, 'GET', '/v1/kv/cas')).status).toBe(404)
  })

  it('lists a prefix with base64 values, a limit and the more flag', async () => {
    for (const name of ['c', 'a', 'b'])
      await call(leader().url, 'PUT', `/v1/kv/list%2F${name}`, { raw: `v-${name}` })
    await call(leader().url, 'PUT', '/v1/kv/listing-other', { raw: 'no' })
    const page = await call(follower().url, 'GET', '/v1/kv?prefix=list%2F&limit=2')
    expect(page.status).toBe(200)
    const kvs = page.body['kvs'] as Array<Record<string, unknown>>
    expect(kvs.map((kv) => kv['key'])).toEqual(['list/a', 'list/b'])
    expect(Buffer.from(kvs[0]!['value'] as string, 'base64').toString()).toBe('v-a')
    expect(kvs[0]).toMatchObject({ version: 1 })
    expect(kvs[0]!['mod_revision']).toBe(kvs[0]!['create_revision'])
    expect(page.body['more']).toBe(true)
    expect(page.body['revision']).toBeGreaterThanOrEqual(kvs[1]!['mod_revision'] as number)
    const all = await call(follower().url, 'GET', '/v1/kv?prefix=list%2F&consistency=stale')
    expect(all.body['more']).toBe(false)
  })
})

describe('counters', () => {
  it('adds positive and negative deltas through any node, reads 0 when unset, refuses overflow', async () => {
    expect(await call(follower().url, 'GET', '/v1/counters/unset')).toMatchObject({
      status: 200,
      body: { value: 0 },
    })
    await Promise.all(
      cluster.nodes.flatMap((node) =>
        Array.from({ length: 5 }, () => call(node.url, 'POST', '/v1/counters/hits', { body: { delta: 2 } })),
      ),
    )
    expect((await call(leader().url, 'GET', '/v1/counters/hits')).body).toEqual({ value: 30 })
    expect((await call(follower().url, 'POST', '/v1/counters/hits', { body: { delta: -40 } })).body).toEqual({
      value: -10,
    })
    await call(leader().url, 'POST', '/v1/counters/big', { body: { delta: Number.MAX_SAFE_INTEGER } })
    expect(await call(leader().url, 'POST', '/v1/counters/big', { body: { delta: 1 } })).toMatchObject({
      status: 409,
      body: { error: 'overflow' },
    })
  })
})

describe('sessions', () => {
  it('applies a retried write once, through any node, and answers the retry with the first result', async () => {
    const opened = await call(follower().url, 'POST', '/v1/sessions')
    expect(opened.status).toBe(200)
    const session = opened.body['session_id'] as string
    const headers = { 'x-session-id': session, 'x-session-seq': '1' }
    const first = await call(follower().url, 'POST', '/v1/counters/once', { body: { delta: 5 }, headers })
    const retry = await call(leader().url, 'POST', '/v1/counters/once', { body: { delta: 5 }, headers })
    expect(first.body).toEqual({ value: 5 })
    expect(retry.body).toEqual({ value: 5 })
    const next = await call(leader().url, 'POST', '/v1/counters/once', {
      body: { delta: 5 },
      headers: { ...headers, 'x-session-seq': '2' },
    })
    expect(next.body).toEqual({ value: 10 })
    expect((await call(follower().url, 'GET', '/v1/counters/once')).body).toEqual({ value: 10 })
    const put = (node: TestNode) =>
      call(node.url, 'PUT', '/v1/kv/session-key', { raw: 'v', headers: { ...headers, 'x-session-seq': '3' } })
    const putFirst = await put(follower())
    expect((await put(leader())).body).toEqual(putFirst.body)
  })

  it('answers 410 session_expired for a session that was never opened', async () => {
    expect(
      await call(follower().url, 'POST', '/v1/counters/once', {
        body: { delta: 1 },
        headers: { 'x-session-id': '999999999', 'x-session-seq': '1' },
      }),
    ).toMatchObject({ status: 410, body: { error: 'session_expired', outcome: 'not_applied' } })
  })
})

describe('locks', () => {
  it('lets one owner hold a lock at a time, with increasing fencing tokens, and hands over on expiry', async () => {
    const acquire = (node: TestNode, owner: string, ttl: number) =>
      call(node.url, 'POST', '/v1/locks/job/acquire', { body: { owner, ttl_ms: ttl } })
    const alice = await acquire(follower(), 'alice', 400)
    expect(alice.status).toBe(200)
    const aliceToken = alice.body['fencing_token'] as number
    expect(alice.body['expires_at']).toBeGreaterThan(0)
    const contended = await acquire(leader(), 'bob', 5_000)
    expect(contended).toMatchObject({ status: 409, body: { error: 'held', holder: 'alice' } })
    // Alice acquiring again renews and keeps her token.
    expect((await acquire(leader(), 'alice', 400)).body['fencing_token']).toBe(aliceToken)
    const view = await call(follower().url, 'GET', '/v1/locks/job')
    expect(view.body).toMatchObject({ holder: 'alice', fencing_token: aliceToken })
    expect(view.body['now']).toBeGreaterThan(0)

    let bobToken = 0
    await vi.waitFor(
      async () => {
        const bob = await acquire(follower(), 'bob', 5_000)
        expect(bob.status).toBe(200)
        bobToken = bob.body['fencing_token'] as number
      },
      { timeout: 5_000, interval: 50 },
    )
    expect(bobToken).toBeGreaterThan(aliceToken)
    expect(
      await call(leader().url, 'POST', '/v1/locks/job/renew', {
        body: { owner: 'alice', fencing_token: aliceToken, ttl_ms: 1_000 },
      }),
    ).toMatchObject({ status: 409, body: { error: 'not_holder' } })
    const renewed = await call(leader().url, 'POST', '/v1/locks/job/renew', {
      body: { owner: 'bob', fencing_token: bobToken, ttl_ms: 5_000 },
    })
    expect(renewed.body).toMatchObject({ fencing_token: bobToken })
    expect(
      await call(follower().url, 'POST', '/v1/locks/job/release', {
        body: { owner: 'bob', fencing_token: bobToken },
      }),
    ).toMatchObject({ status: 200, body: { released: true } })
    expect((await call(follower().url, 'GET', '/v1/locks/job')).body).toMatchObject({
      holder: null,
      fencing_token: null,
      expires_at: null,
    })
  })

  it('answers lease_expired for a renew after the lease ran out with nobody else taking it', async () => {
    const grant = await call(leader().url, 'POST', '/v1/locks/short/acquire', {
      body: { owner: 'carol', ttl_ms: 1 },
    })
    const token = grant.body['fencing_token'] as number
    await vi.waitFor(async () => {
      const renew = await call(leader().url, 'POST', '/v1/locks/short/renew', {
        body: { owner: 'carol', fencing_token: token, ttl_ms: 1_000 },
      })
      expect(renew).toMatchObject({ status: 409, body: { error: 'lease_expired' } })
    })
  })
})

describe('watch', () => {
  it('streams changes under a prefix in revision order, and resumes from a revision', async () => {
    const watcher = new WatchClient(`${follower().url.replace('http', 'ws')}/v1/watch?prefix=w%2F`)
    await watcher.opened
    await vi.waitFor(() => expect(watcher.frames[0]).toMatchObject({ type: 'synced' }))
    const revisions: number[] = []
    for (let index = 0; index < 5; index++) {
      const put = await call(cluster.nodes[index % 3]!.url, 'PUT', `/v1/kv/w%2F${index}`, {
        raw: `v${index}`,
      })
      revisions.push(put.body['revision'] as number)
      await call(leader().url, 'PUT', '/v1/kv/unwatched', { raw: 'x' })
    }
    const deleted = await call(leader().url, 'DELETE', '/v1/kv/w%2F0')
    await vi.waitFor(() => expect(watcher.events()).toHaveLength(6))
    const events = watcher.events()
    expect(events.map((event) => event['revision'])).toEqual([...revisions, deleted.body['revision']])
    expect(events[0]).toMatchObject({ type: 'put', key: 'w/0', version: 1 })
    expect(Buffer.from(events[1]!['value'] as string, 'base64').toString()).toBe('v1')
    expect(events[5]).toEqual({ type: 'delete', key: 'w/0', revision: deleted.body['revision'] })
    watcher.close()

    const resumed = new WatchClient(
      `${leader().url.replace('http', 'ws')}/v1/watch?prefix=w%2F&from_revision=${revisions[3]}`,
    )
    await resumed.opened
    await vi.waitFor(() => expect(resumed.frames.some((frame) => frame['type'] === 'synced')).toBe(true))
    expect(resumed.events().map((event) => event['revision'])).toEqual([
      revisions[3],
      revisions[4],
      deleted.body['revision'],
    ])
    const synced = resumed.frames.find((frame) => frame['type'] === 'synced')!
    expect(synced['revision']).toBeGreaterThanOrEqual(deleted.body['revision'] as number)
    resumed.close()
  })

  it('reports a revision older than the retained history as compacted and closes with 4410', async () => {
    for (let index = 0; index < HISTORY_EVENTS_MAX + 5; index++) {
      await call(leader().url, 'PUT', `/v1/kv/churn%2F${index % 3}`, { raw: `${index}` })
    }
    const watcher = new WatchClient(`${follower().url.replace('http', 'ws')}/v1/watch?from_revision=1`)
    await watcher.opened
    await vi.waitFor(() => expect(watcher.closeCode).toBe(4410))
    expect(watcher.frames).toEqual([
      { type: 'error', error: 'compacted', compact_revision: expect.any(Number) as unknown as number },
    ])
    expect(watcher.frames[0]!['compact_revision']).toBeGreaterThan(1)
  })

  it('refuses bad watch parameters before upgrading', async () => {
    const base = follower().url.replace('http', 'ws')
    expect(await WatchClient.refusal(`${base}/v1/watch?from_revision=abc`)).toBe(400)
    expect(await WatchClient.refusal(`${base}/v1/watch?prefix=${'p'.repeat(600)}`)).toBe(400)
    expect((await call(follower().url, 'GET', '/v1/watch')).status).toBe(426)
  })
})

describe('bad input', () => {
  it('refuses every malformed request with the contract error and keeps serving', async () => {
    const url = follower().url
    const cases: Array<
      [string, string, { raw?: string; body?: unknown; headers?: Record<string, string> }, number, string]
    > = [
      ['GET', '/nowhere', {}, 404, 'unknown_route'],
      ['GET', '/v1/kv/', {}, 400, 'invalid_key'],
      ['GET', '/v1/kv/%01control', {}, 400, 'invalid_key'],
      ['GET', '/v1/kv/%ZZ', {}, 400, 'invalid_key'],
      ['GET', '/v1/kv/%FF%FE', {}, 400, 'invalid_key'],
      ['GET', `/v1/kv/${'k'.repeat(513)}`, {}, 400, 'invalid_key'],
      ['GET', '/v1/kv/a?consistency=eventual', {}, 400, 'bad_request'],
      ['PUT', '/v1/kv/a?prev_revision=-1', { raw: 'x' }, 400, 'bad_request'],
      ['GET', '/v1/kv?limit=0', {}, 400, 'bad_request'],
      ['GET', '/v1/kv?limit=10001', {}, 400, 'bad_request'],
      ['GET', '/v1/kv?prefix=a&prefix=b', {}, 400, 'bad_request'],
      ['GET', '/v1/counters/%7F', {}, 400, 'invalid_name'],
      ['POST', '/v1/counters/c', { raw: '{"delta": 1' }, 400, 'bad_request'],
      ['POST', '/v1/counters/c', { raw: '[1]' }, 400, 'bad_request'],
      ['POST', '/v1/counters/c', { body: { delta: '1' } }, 400, 'bad_request'],
      ['POST', '/v1/counters/c', { body: { delta: 1.5 } }, 400, 'bad_request'],
      ['POST', '/v1/counters/c', { body: { delta: 2 ** 53 } }, 400, 'bad_request'],
      ['POST', '/v1/counters/c', { raw: '\xff\xfe' }, 400, 'bad_request'],
      ['POST', '/v1/locks/l/acquire', { body: { owner: '', ttl_ms: 10 } }, 400, 'bad_request'],
      ['POST', '/v1/locks/l/acquire', { body: { owner: 'o', ttl_ms: 3_600_001 } }, 400, 'bad_request'],
      ['POST', '/v1/locks/l/acquire', { body: { owner: 'o'.repeat(257), ttl_ms: 10 } }, 400, 'bad_request'],
      ['POST', '/v1/locks/l/renew', { body: { owner: 'o', ttl_ms: 10 } }, 400, 'bad_request'],
      ['POST', '/v1/locks/%00/acquire', { body: { owner: 'o', ttl_ms: 10 } }, 400, 'invalid_name'],
      ['PUT', '/v1/kv/a', { raw: 'x', headers: { 'x-session-id': '1' } }, 400, 'bad_request'],
      [
        'PUT',
        '/v1/kv/a',
        { raw: 'x', headers: { 'x-session-id': '1', 'x-session-seq': '0' } },
        400,
        'bad_request',
      ],
      [
        'POST',
        '/v1/cluster/members',
        { body: { id: 'xyz', address: 'tcp://127.0.0.1:1' } },
        400,
        'bad_request',
      ],
      [
        'POST',
        '/v1/cluster/members',
        { body: { id: 'ab'.repeat(32), address: 'nonsense' } },
        400,
        'bad_request',
      ],
      [
        'POST',
        '/v1/cluster/members',
        { body: { id: 'ab'.repeat(32), address: 'tcp://h:1', api: 'ftp://x' } },
        400,
        'bad_request',
      ],
      ['DELETE', '/v1/cluster/members/not-an-id', {}, 400, 'bad_request'],
      ['POST', '/v1/cluster/transfer-leader', { body: { to: 42 } }, 400, 'bad_request'],
    ]
    for (const [method, path, init, status, error] of cases) {
      const answer = await call(url, method, path, init)
      expect({ method, path, status: answer.status, error: answer.body['error'] }).toEqual({
        method,
        path,
        status,
        error,
      })
      expect(typeof answer.body['message']).toBe('string')
    }
    const wrongMethod = await call(url, 'PATCH', '/v1/kv/a')
    expect(wrongMethod).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } })
    expect(wrongMethod.headers.get('allow')).toBe('GET, PUT, DELETE')
    expect((await call(url, 'DELETE', '/v1/counters/c')).headers.get('allow')).toBe('GET, POST')
    expect((await call(url, 'PUT', '/v1/kv/still-serving', { raw: 'yes' })).status).toBe(200)
    expect((await call(url, 'GET', '/health')).status).toBe(200)
  })

  it('refuses an oversized body with 413, early from Content-Length and while streaming', async () => {
    const node = follower()
    const port = Number(new URL(node.url).port)
    const declared = await rawExchange(port, [
      `PUT /v1/kv/big HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n`,
      new Uint8Array(64 * 1024),
    ])
    expect(declared).toMatch(/^HTTP\/1\.1 413 /)
    expect(declared).toContain('"body_too_large"')
    const chunk = new Uint8Array(256 * 1024).fill(97)
    const chunked = [`PUT /v1/kv/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`]
    const parts: Array<string | Uint8Array> = [...chunked]
    for (let index = 0; index < 6; index++) parts.push(`${chunk.length.toString(16)}\r\n`, chunk, '\r\n')
    parts.push('0\r\n\r\n')
    const streamed = await rawExchange(port, parts)
    expect(streamed).toMatch(/^HTTP\/1\.1 413 /)
    // Exactly at the limit is accepted.
    const atLimit = await call(node.url, 'PUT', '/v1/kv/at-limit', { raw: new Uint8Array(1024 * 1024) })
    expect(atLimit.status).toBe(200)
    expect((await call(node.url, 'GET', '/health')).body['status']).toBe('ok')
  })
})

describe('operations', () => {
  it('reports health without auth and metrics per route and status', async () => {
    const health = await call(follower().url, 'GET', '/health')
    expect(health.body).toEqual({
      status: 'ok',
      id: follower().id.hex,
      role: 'follower',
      leader: leader().id.hex,
    })
    const metrics = await fetch(`${follower().url}/metrics`)
    expect(metrics.headers.get('content-type')).toContain('text/plain')
    const body = await metrics.text()
    expect(body).toMatch(/socketcloud_http_requests_total\{route="\/health",method="GET",status="200"\} \d+/)
    expect(body).toContain('socketcloud_http_request_duration_seconds_bucket')
    expect(body).toContain('status="404"')
  })

  it('lists the cluster with addresses, APIs, roles and exactly one leader', async () => {
    const status = await call(follower().url, 'GET', '/v1/cluster')
    expect(status.status).toBe(200)
    expect(status.body).toMatchObject({ id: follower().id.hex, leader: leader().id.hex })
    expect(status.body['commit_index']).toBeGreaterThan(0)
    expect(status.body['applied_index']).toBeGreaterThan(0)
    const members = status.body['members'] as Array<Record<string, unknown>>
    expect(members).toHaveLength(3)
    expect(members.filter((member) => member['leader'])).toHaveLength(1)
    for (const node of cluster.nodes) {
      expect(members).toContainEqual(
        expect.objectContaining({
          id: node.id.hex,
          address: node.address,
          api: node.url,
          role: 'voter',
          state: node === follower() ? 'self' : 'suspect',
        }),
      )
    }
  })
})

describe('cluster administration', () => {
  it('transfers leadership to a named voter, and by default to another voter through a follower', async () => {
    const target = follower()
    const moved = await call(leader().url, 'POST', '/v1/cluster/transfer-leader', {
      body: { to: target.id.hex },
    })
    expect(moved).toMatchObject({ status: 200, body: { leader: target.id.hex } })
    await vi.waitFor(() => expect(cluster.leader()).toBe(target))
    const previous = leader()
    const viaFollower = await call(follower().url, 'POST', '/v1/cluster/transfer-leader')
    expect(viaFollower.status).toBe(200)
    expect(viaFollower.body['leader']).not.toBe(previous.id.hex)
    await vi.waitFor(() => expect(cluster.leader()?.id.hex).toBe(viaFollower.body['leader']))
    expect((await call(follower().url, 'PUT', '/v1/kv/after-transfer', { raw: 'ok' })).status).toBe(200)
  })

  it('adds a node as a learner through a follower and promotes it once it caught up; removes a member', async () => {
    const directories: Array<readonly { id: string }[]> = []
    leader().services.events.on('directory', (members) => directories.push(members))
    const joiner = await cluster.startJoiner()
    const request = { id: joiner.id.hex, address: joiner.address, api: joiner.url }
    const added = await call(follower().url, 'POST', '/v1/cluster/members', { body: request })
    expect(added).toMatchObject({ status: 200, body: { id: joiner.id.hex, role: 'voter' } })
    expect(await call(follower().url, 'POST', '/v1/cluster/members', { body: request })).toMatchObject({
      status: 409,
      body: { error: 'member_exists' },
    })
    await vi.waitFor(async () => {
      const value = await fetch(`${joiner.url}/v1/kv/greeting?consistency=stale`)
      expect(await value.text()).toBe('hello')
    })
    expect((await call(joiner.url, 'PUT', '/v1/kv/from-joiner', { raw: 'hi' })).status).toBe(200)
    const status = await call(joiner.url, 'GET', '/v1/cluster')
    expect((status.body['members'] as unknown[]).length).toBe(4)
    await vi.waitFor(() => expect(directories.at(-1)?.map((member) => member.id)).toContain(joiner.id.hex))

    const removed = await call(leader().url, 'DELETE', `/v1/cluster/members/${joiner.id.hex}`)
    expect(removed).toMatchObject({ status: 200, body: { removed: joiner.id.hex } })
    expect(await call(leader().url, 'DELETE', `/v1/cluster/members/${joiner.id.hex}`)).toMatchObject({
      status: 404,
      body: { error: 'not_member' },
    })
    await vi.waitFor(async () => {
      const after = await call(follower().url, 'GET', '/v1/cluster')
      expect((after.body['members'] as Array<{ id: string }>).map((member) => member.id)).not.toContain(
        joiner.id.hex,
      )
    })
    await vi.waitFor(() =>
      expect(directories.at(-1)?.map((member) => member.id)).not.toContain(joiner.id.hex),
    )
    expect((await call(follower().url, 'PUT', '/v1/kv/after-removal', { raw: 'ok' })).status).toBe(200)
    for (const node of cluster.nodes) expect(node.observerErrors).toEqual([])
  })
})

describe('availability errors', () => {
  it('answers 503 stopping with outcome not_applied once the services stop', async () => {
    const node = follower()
    node.services.stop()
    expect(await call(node.url, 'PUT', '/v1/kv/late', { raw: 'x' })).toMatchObject({
      status: 503,
      body: { error: 'stopping', outcome: 'not_applied' },
    })
  })
})
