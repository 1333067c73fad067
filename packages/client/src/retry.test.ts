import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ScriptedCluster } from './testing/scripted-cluster'
import type { RecordedRequest } from './testing/scripted-cluster'
import { deadEndpoint, recordingClient, rejectionOf } from './testing/helpers'

// Goal: retries are safe and failover finds a working node. A write retried after a lost answer, a timeout
// or a 504 is applied once, because every attempt carries the same session id and sequence number; a
// new logical write gets a new number; an expired session is replaced only when nothing may have applied.
// Method: three scripted endpoints sharing one state (like one cluster); each can refuse connections,
// answer 503/504/429, hang, or apply a write and then drop the connection before answering. The count of
// applied commands shows what the cluster really did.
let cluster: ScriptedCluster

beforeEach(async () => {
  cluster = await ScriptedCluster.start(3)
})
afterEach(async () => {
  await cluster.stop()
})

const writesTo = (requests: RecordedRequest[], url: string) =>
  requests.filter((request) => request.url === url)
const sessionHeaders = (request: RecordedRequest) => [
  request.headers['x-session-id'],
  request.headers['x-session-seq'],
]

describe('failover', () => {
  it('skips a dead endpoint and one answering 503, then sticks to the one that worked', async () => {
    const busy = cluster.endpoints[1]!
    const good = cluster.endpoints[2]!
    busy.always({ kind: 'respond', status: 503, body: { error: 'no_leader', outcome: 'not_applied' } })
    const dead = await deadEndpoint()
    const { client, sleeps } = recordingClient([dead, busy.url, good.url])
    expect(await client.counter.add('hits', 5)).toBe(5)
    expect(client.currentEndpoint).toBe(good.url)
    expect(sleeps).toHaveLength(2)
    const busyBefore = busy.requests.length
    expect(await client.counter.add('hits', 1)).toBe(6)
    expect(await client.counter.get('hits')).toBe(6)
    expect(busy.requests.length).toBe(busyBefore)
    expect(cluster.applied).toBe(2)
  })

  it('stays on the same endpoint after 429 and waits as long as Retry-After says', async () => {
    const [first, second] = cluster.endpoints
    first!.once({
      kind: 'respond',
      status: 429,
      body: { error: 'overloaded', outcome: 'not_applied' },
      headers: { 'retry-after': '2' },
    })
    const { client, sleeps } = recordingClient(cluster.urls)
    await client.kv.put('k', 'v')
    expect(writesTo(first!.requests, '/v1/kv/k')).toHaveLength(2)
    expect(second!.requests).toHaveLength(0)
    expect(sleeps).toHaveLength(1)
    expect(sleeps[0]).toBeGreaterThanOrEqual(2000)
  })

  it('reports unreachable when no endpoint accepts connections', async () => {
    const endpoints = [await deadEndpoint(), await deadEndpoint()]
    const { client, sleeps } = recordingClient(endpoints, { retry: { attemptsMax: 4 } })
    const error = await rejectionOf(() => client.kv.get('k'))
    expect(error).toMatchObject({
      code: 'unreachable',
      outcome: 'not_applied',
      attempts: 4,
      status: undefined,
    })
    expect(sleeps).toHaveLength(3)
  })

  it('retries reads through a dropped connection and a timeout', async () => {
    const [first, second, third] = cluster.endpoints
    first!.once({ kind: 'drop' })
    second!.once({ kind: 'hang' })
    const { client } = recordingClient(cluster.urls, { requestTimeoutMs: 300 })
    expect(await client.kv.get('nothing')).toBeNull()
    expect(client.currentEndpoint).toBe(third!.url)
  })
})

describe('safe writes', () => {
  it('opens one session lazily, shared by concurrent first writes, and numbers each write', async () => {
    const { client } = recordingClient(cluster.urls)
    expect(client.sessionId).toBeUndefined()
    await client.kv.get('k')
    expect(cluster.endpoints[0]!.requests.some((request) => request.url === '/v1/sessions')).toBe(false)
    await Promise.all([client.counter.add('c', 1), client.counter.add('c', 1), client.kv.put('k', 'v')])
    const requests = cluster.endpoints[0]!.requests
    expect(writesTo(requests, '/v1/sessions')).toHaveLength(1)
    const writes = requests.filter((request) => request.method !== 'GET' && request.url !== '/v1/sessions')
    expect(new Set(writes.map((request) => request.headers['x-session-id']))).toEqual(
      new Set([client.sessionId]),
    )
    expect(writes.map((request) => Number(request.headers['x-session-seq'])).sort()).toEqual([1, 2, 3])
    await client.kv.delete('k')
    expect(requests.at(-1)!.headers['x-session-seq']).toBe('4')
    expect(
      requests
        .filter((request) => request.method === 'GET')
        .every((request) => request.headers['x-session-id'] === undefined),
    ).toBe(true)
  })

  it('applies a write once when the answer is lost and the retry goes to another endpoint', async () => {
    const [first, second] = cluster.endpoints
    first!.once({ kind: 'apply_then_drop' })
    const { client } = recordingClient(cluster.urls)
    expect(await client.counter.add('once', 7)).toBe(7)
    expect(cluster.applied).toBe(1)
    const attempts = [
      ...writesTo(first!.requests, '/v1/counters/once'),
      ...writesTo(second!.requests, '/v1/counters/once'),
    ]
    expect(attempts).toHaveLength(2)
    expect(sessionHeaders(attempts[0]!)).toEqual(sessionHeaders(attempts[1]!))
    expect(await client.counter.get('once')).toBe(7)
  })

  it('retries through a client timeout and a 504 with the same sequence number', async () => {
    const [first, second, third] = cluster.endpoints
    first!.once({ kind: 'hang' })
    second!.once({ kind: 'respond', status: 504, body: { error: 'timeout', outcome: 'unknown' } })
    const { client } = recordingClient(cluster.urls, { requestTimeoutMs: 300 })
    const { revision } = await client.kv.put('slow', 'v')
    expect(revision).toBe(1)
    const attempts = [first!, second!, third!].flatMap((endpoint) =>
      writesTo(endpoint.requests, '/v1/kv/slow'),
    )
    expect(attempts).toHaveLength(3)
    expect(new Set(attempts.map((request) => sessionHeaders(request).join('#'))).size).toBe(1)
    expect(cluster.applied).toBe(1)
  })

  it('says the outcome is unknown when every attempt timed out', async () => {
    for (const endpoint of cluster.endpoints) endpoint.always({ kind: 'hang' })
    const { client } = recordingClient(cluster.urls, { requestTimeoutMs: 100, retry: { attemptsMax: 3 } })
    const error = await rejectionOf(() => client.kv.put('k', 'v'))
    expect(error).toMatchObject({ code: 'timeout', outcome: 'unknown', attempts: 3 })
  }, 10_000)

  it('keeps an unknown outcome when a later attempt says not applied', async () => {
    const [first, second] = cluster.endpoints
    first!.once({ kind: 'drop' })
    second!.always({ kind: 'respond', status: 503, body: { error: 'no_leader', outcome: 'not_applied' } })
    const { client } = recordingClient([first!.url, second!.url], { retry: { attemptsMax: 2 } })
    expect(await rejectionOf(() => client.kv.put('k', 'v'))).toMatchObject({
      code: 'no_leader',
      outcome: 'unknown',
    })
  })

  it('replaces an expired session when the write certainly did not apply', async () => {
    const { client } = recordingClient(cluster.urls)
    await client.kv.put('a', '1')
    const oldSession = client.sessionId!
    cluster.expireSession(oldSession, 'not_applied')
    await client.kv.put('b', '2')
    expect(client.sessionId).not.toBe(oldSession)
    const last = cluster.endpoints[0]!.requests.at(-1)!
    expect(sessionHeaders(last)).toEqual([client.sessionId, '1'])
    expect(cluster.applied).toBe(2)
  })

  it('does not replace an expired session when the server cannot tell what happened', async () => {
    const { client } = recordingClient(cluster.urls)
    await client.kv.put('a', '1')
    cluster.expireSession(client.sessionId!, 'unknown')
    const error = await rejectionOf(() => client.kv.put('b', '2'))
    expect(error).toMatchObject({ code: 'session_expired', outcome: 'unknown', status: 410 })
    expect((error as Error).message).toMatch(/unknown/)
  })

  it('does not replace an expired session after an attempt whose fate is unknown', async () => {
    const [first] = cluster.endpoints
    const { client } = recordingClient(cluster.urls, {
      // The session expires while the client backs off after the lost answer.
      sleep: async () => cluster.expireSession(client.sessionId!, 'not_applied'),
    })
    await client.kv.put('warm', 'up')
    first!.once({ kind: 'apply_then_drop' })
    const error = await rejectionOf(() => client.kv.put('k', 'v'))
    expect(error).toMatchObject({ code: 'session_expired', outcome: 'unknown' })
    expect(cluster.openSessions).toHaveLength(0)
  })

  it('without safeWrites sends no session and does not retry a write whose fate is unknown', async () => {
    const [first, second] = cluster.endpoints
    first!.once({ kind: 'apply_then_drop' })
    const { client } = recordingClient(cluster.urls, { safeWrites: false })
    const error = await rejectionOf(() => client.counter.add('c', 1))
    expect(error).toMatchObject({ code: 'unreachable', outcome: 'unknown', attempts: 1 })
    expect(cluster.applied).toBe(1)
    expect(second!.requests).toHaveLength(0)
    expect(first!.requests.every((request) => request.headers['x-session-id'] === undefined)).toBe(true)
    first!.once({ kind: 'respond', status: 503, body: { error: 'no_leader', outcome: 'not_applied' } })
    expect(await client.counter.add('c', 1)).toBe(2)
  })

  it('does not retry admin calls whose fate is unknown', async () => {
    const [first] = cluster.endpoints
    first!.once({ kind: 'respond', status: 504, body: { error: 'timeout', outcome: 'unknown' } })
    const { client } = recordingClient(cluster.urls)
    const error = await rejectionOf(() =>
      client.cluster.addMember({ id: 'cc', address: 'tcp://127.0.0.1:1' }),
    )
    expect(error).toMatchObject({ code: 'timeout', status: 504, outcome: 'unknown', attempts: 1 })
  })
})

describe('session window', () => {
  it('holds back a write that would run sessionWindowMax ahead of the oldest one in flight', async () => {
    const node = cluster.endpoints[0]!
    const { client } = recordingClient([node.url], { sessionWindowMax: 3, requestTimeoutMs: 60_000 })
    await client.kv.put('warm', 'up')
    node.once({ kind: 'hang' })
    const stuck = new AbortController()
    const first = rejectionOf(() => client.kv.put('w/1', 'v', { signal: stuck.signal }))
    await waitForRequest(node.requests, '/v1/kv/w%2F1')
    const later = [2, 3, 4, 5].map((index) => client.kv.put(`w/${index}`, 'v'))
    await Promise.all(later.slice(0, 2))
    const seqs = () => node.requests.map((request) => Number(request.headers['x-session-seq'] ?? 0))
    expect(Math.max(...seqs())).toBe(4)
    expect(client.sessionId).toBeDefined()
    const waiting = new AbortController()
    const refused = rejectionOf(() => client.kv.put('w/never', 'v', { signal: waiting.signal }))
    waiting.abort()
    expect(await refused).toMatchObject({ code: 'aborted', outcome: 'not_applied' })
    stuck.abort()
    expect(await first).toMatchObject({ code: 'aborted', outcome: 'unknown' })
    await Promise.all(later)
    expect(
      seqs()
        .filter((seq) => seq > 0)
        .sort((a, b) => a - b),
    ).toEqual([1, 2, 3, 4, 5, 6])
    expect(node.requests.some((request) => request.url === '/v1/kv/w%2Fnever')).toBe(false)
  })
})

describe('abort', () => {
  it('rejects with aborted when the signal fires during an attempt', async () => {
    for (const endpoint of cluster.endpoints) endpoint.always({ kind: 'hang' })
    const { client } = recordingClient(cluster.urls, { requestTimeoutMs: 60_000 })
    const controller = new AbortController()
    const pending = rejectionOf(() => client.kv.put('k', 'v', { signal: controller.signal }))
    await waitForRequest(cluster.endpoints[0]!.requests, '/v1/kv/k')
    controller.abort()
    expect(await pending).toMatchObject({ code: 'aborted', outcome: 'unknown' })
  })

  it('rejects a read at once when the signal was already aborted', async () => {
    const { client } = recordingClient(cluster.urls)
    expect(await rejectionOf(() => client.kv.get('k', { signal: AbortSignal.abort() }))).toMatchObject({
      code: 'aborted',
      outcome: 'not_applied',
    })
  })
})

async function waitForRequest(requests: RecordedRequest[], url: string): Promise<void> {
  await vi.waitFor(() => {
    if (!requests.some((request) => request.url === url)) throw new Error(`no request to ${url} yet`)
  })
}
