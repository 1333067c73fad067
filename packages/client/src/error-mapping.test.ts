import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { LockHeldError, RevisionMismatchError, SocketCloudClientError } from './errors'
import { ScriptedCluster } from './testing/scripted-cluster'
import type { Behaviour, ScriptedEndpoint } from './testing/scripted-cluster'
import { recordingClient, rejectionOf } from './testing/helpers'

// Goal: every answer the server can give becomes a typed error with the server's code, the status, an
// outcome the caller can act on, and the endpoint; a malformed answer becomes `bad_response` and never a
// crash or an untyped value. Method: a scripted node answers each case; the client's error is inspected.
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

const respond = (status: number, body?: unknown, headers?: Record<string, string>): Behaviour => ({
  kind: 'respond',
  status,
  body,
  headers,
})

describe('error answers', () => {
  it.each([
    [400, 'bad_request'],
    [400, 'invalid_key'],
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'unknown_route'],
    [405, 'method_not_allowed'],
    [409, 'overflow'],
    [409, 'not_holder'],
    [413, 'body_too_large'],
    [418, 'a_code_from_the_future'],
  ])('maps %i %s to a final error without retrying', async (status, code) => {
    const { client } = recordingClient(cluster.urls)
    node.always(respond(status, { error: code, message: `because ${code}` }))
    const error = await rejectionOf(() => client.counter.add('c', 1))
    expect(error).toBeInstanceOf(SocketCloudClientError)
    expect(error).toMatchObject({ code, status, outcome: 'not_applied', endpoint: node.url, attempts: 1 })
    expect((error as Error).message).toBe(`because ${code}`)
    expect(node.requests.filter((request) => request.url === '/v1/counters/c')).toHaveLength(1)
  })

  it('gives revision_mismatch and held their fields', async () => {
    const { client } = recordingClient(cluster.urls)
    node.once(respond(409, { error: 'revision_mismatch', current: 17 }))
    const mismatch = await rejectionOf(() => client.kv.put('k', 'v', { prevRevision: 3 }))
    expect(mismatch).toBeInstanceOf(RevisionMismatchError)
    expect((mismatch as RevisionMismatchError).current).toBe(17)

    node.once(respond(409, { error: 'held', holder: 'worker-2', expires_at: 1_700_000_005_000 }))
    const held = await rejectionOf(() => client.lock.acquire('l', { owner: 'worker-1', ttlMs: 1000 }))
    expect(held).toBeInstanceOf(LockHeldError)
    expect(held).toMatchObject({
      holder: 'worker-2',
      expiresAt: 1_700_000_005_000,
      status: 409,
      code: 'held',
    })
  })

  it('turns error bodies that break the contract into bad_response', async () => {
    const { client } = recordingClient(cluster.urls)
    const cases: Behaviour[] = [
      respond(409, { error: 'revision_mismatch' }),
      respond(409, { error: 'held', holder: 5, expires_at: 1 }),
      { kind: 'respond', status: 400, raw: '<html>proxy says no</html>' },
      respond(400, { message: 'no code' }),
      respond(400, { error: 'bad_request', outcome: 'maybe' }),
    ]
    for (const behaviour of cases) {
      node.once(behaviour)
      const error = await rejectionOf(() => client.kv.put('k', 'v', { prevRevision: 1 }))
      expect(error, JSON.stringify(behaviour)).toMatchObject({
        code: 'bad_response',
        status: behaviour.kind === 'respond' ? behaviour.status : 0,
      })
    }
  })

  it('turns malformed success bodies into bad_response, saying a write was applied', async () => {
    const { client } = recordingClient(cluster.urls)
    node.once({ kind: 'respond', status: 200, raw: 'not json' })
    expect(await rejectionOf(() => client.kv.put('k', 'v'))).toMatchObject({
      code: 'bad_response',
      outcome: 'applied',
    })
    node.once(respond(200, { revision: -1 }))
    expect(await rejectionOf(() => client.kv.put('k', 'v'))).toMatchObject({
      code: 'bad_response',
      outcome: 'applied',
    })
    node.once(respond(200, { value: '12' }))
    expect(await rejectionOf(() => client.counter.get('c'))).toMatchObject({
      code: 'bad_response',
      outcome: 'not_applied',
    })
    node.once(
      respond(200, {
        revision: 1,
        kvs: [{ key: 'a', value: 'not base64!', create_revision: 1, mod_revision: 1, version: 1 }],
        more: false,
      }),
    )
    expect(await rejectionOf(() => client.kv.list())).toMatchObject({ code: 'bad_response' })
    node.once(
      respond(200, {
        id: 'aa',
        leader: null,
        term: 1,
        commit_index: 1,
        applied_index: 1,
        members: [{ id: 'x', address: 'a', role: 'king', state: 'alive', leader: false }],
      }),
    )
    expect(await rejectionOf(() => client.cluster.status())).toMatchObject({ code: 'bad_response' })
    node.once({
      kind: 'respond',
      status: 200,
      raw: 'value',
      headers: { 'content-type': 'application/octet-stream', 'x-revision': 'seven' },
    })
    expect(await rejectionOf(() => client.kv.get('k'))).toMatchObject({ code: 'bad_response' })
  })

  it('refuses a body larger than responseBytesMax', async () => {
    const { client } = recordingClient(cluster.urls, { responseBytesMax: 1024 })
    await client.kv.put('big', new Uint8Array(4096))
    expect(await rejectionOf(() => client.kv.get('big'))).toMatchObject({ code: 'bad_response', status: 200 })
    expect(await client.kv.put('small', new Uint8Array(10))).toHaveProperty('revision')
  })

  it('reports no_leader with its outcome after using every attempt, honouring Retry-After', async () => {
    const { client, sleeps } = recordingClient(cluster.urls, { retry: { attemptsMax: 3 } })
    node.always(respond(503, { error: 'no_leader', outcome: 'not_applied' }, { 'retry-after': '1' }))
    const error = await rejectionOf(() => client.kv.put('k', 'v'))
    expect(error).toMatchObject({ code: 'no_leader', status: 503, outcome: 'not_applied', attempts: 3 })
    expect(sleeps).toHaveLength(2)
    expect(sleeps.every((delayMs) => delayMs >= 1000)).toBe(true)
  })

  it('keeps the error readable as JSON for logs', async () => {
    const { client } = recordingClient(cluster.urls)
    node.once(respond(403, { error: 'forbidden', message: 'token lacks kv/write on a/' }))
    const error = (await rejectionOf(() => client.kv.put('a/b', 'v'))) as SocketCloudClientError
    expect(error.toJSON()).toMatchObject({
      code: 'forbidden',
      context: { status: 403, outcome: 'not_applied' },
    })
  })
})
