// Goal: the whole system as a user runs it — three `socketcloud node` processes on 127.0.0.1 (Noise
// over TCP between them, Raft on the file WAL, the built-in machines, the HTTP/WebSocket API) keep
// their promises through the client: counters add up exactly, locks exclude and fence, watches see
// every change in order and resume, acknowledged writes survive a SIGKILL of the leader, a killed
// node catches up, a node joins and a member leaves, a non-member cannot connect, SIGTERM is clean.
// Method: real processes (the CLI from source through tsx) in a temporary directory, driven through
// @socketcloud/client and raw fetch; every wait is on a condition, never a fixed sleep.
import { SocketCloudClient, isClientError, type WatchEvent } from '@socketcloud/client'
import { NodeId, TransportError } from '@socketcloud/core'
import { Ed25519Identity, NoiseUpgrader } from '@socketcloud/security'
import { TransportManager } from '@socketcloud/transport'
import { execFile } from 'node:child_process'
import { request } from 'node:http'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ProcessCluster, SOURCE_NODE_COMMAND } from './process-cluster'

const run = promisify(execFile)

/** Runs the `socketcloud` CLI (from source) and returns its stdout. */
async function cli(...args: string[]): Promise<string> {
  const [executable, ...prefix] = SOURCE_NODE_COMMAND
  const { stdout } = await run(executable, [...prefix, ...args], { timeout: 30_000 })
  return stdout
}

let cluster: ProcessCluster

const clientFor = (endpoints = cluster.nodes.map((node) => node.apiUrl)) =>
  new SocketCloudClient({ endpoints, requestTimeoutMs: 10_000, retry: { attemptsMax: 20 } })

beforeAll(async () => {
  cluster = await ProcessCluster.start(3)
}, 120_000)

afterAll(async () => {
  await cluster?.stop()
})

describe('a three-process cluster', () => {
  it('adds up 10 concurrent clients × 100 increments to exactly 1,000', async () => {
    const clients = Array.from({ length: 10 }, (_, i) =>
      clientFor([cluster.nodes[i % 3]!.apiUrl, ...cluster.nodes.map((node) => node.apiUrl)]),
    )
    await Promise.all(
      clients.map(async (client) => {
        for (let i = 0; i < 100; i++) await client.counter.add('visits', 1)
      }),
    )
    for (const node of cluster.nodes) expect(await clientFor([node.apiUrl]).counter.get('visits')).toBe(1000)
  }, 120_000)

  it('lets at most one of two contending clients hold a lock, with increasing fencing tokens', async () => {
    const alice = clientFor([cluster.nodes[0]!.apiUrl])
    const bob = clientFor([cluster.nodes[1]!.apiUrl])
    const first = await alice.lock.acquire('jobs', { owner: 'alice', ttlMs: 1_500 })
    const refused = await bob.lock
      .acquire('jobs', { owner: 'bob', ttlMs: 1_500 })
      .catch((error: unknown) => error)
    expect(isClientError(refused) && refused.code).toBe('held')
    // The lease runs on log time; once it has passed, Bob gets it with a larger token.
    const second = await vi.waitFor(() => bob.lock.acquire('jobs', { owner: 'bob', ttlMs: 60_000 }), {
      timeout: 20_000,
      interval: 200,
    })
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken)
    const stale = await alice.lock
      .release('jobs', { owner: 'alice', fencingToken: first.fencingToken })
      .catch((error: unknown) => error)
    expect(isClientError(stale) ? stale.code : stale).toMatch(/^(not_holder|lease_expired)$/)
    await bob.lock.release('jobs', { owner: 'bob', fencingToken: second.fencingToken })
    expect((await alice.lock.get('jobs')).holder).toBeNull()
  }, 60_000)

  it('streams every change under a prefix in revision order, and resumes from a revision', async () => {
    const client = clientFor()
    const start = await client.kv.put('watched/start', 'x')
    const abort = new AbortController()
    const seen: WatchEvent[] = []
    const watching = (async () => {
      for await (const event of client.watch('watched/', {
        fromRevision: start.revision,
        signal: abort.signal,
      })) {
        if (event.type === 'put' || event.type === 'delete') seen.push(event)
        if (seen.length === 21) abort.abort()
      }
    })()
    for (let i = 0; i < 10; i++) await client.kv.put(`watched/k${i}`, `v${i}`)
    await client.kv.put('elsewhere/ignored', 'x')
    for (let i = 0; i < 10; i++) await client.kv.delete(`watched/k${i}`)
    await watching.catch((error: unknown) => {
      if (!abort.signal.aborted) throw error
    })
    expect(seen.map((event) => event.revision)).toEqual(
      [...seen.map((event) => event.revision)].sort((a, b) => a - b),
    )
    expect(seen[0]).toMatchObject({ type: 'put', key: 'watched/start', revision: start.revision })
    expect(seen.filter((event) => event.type === 'put')).toHaveLength(11)
    expect(seen.filter((event) => event.type === 'delete')).toHaveLength(10)
    expect(seen.some((event) => 'key' in event && event.key.startsWith('elsewhere/'))).toBe(false)

    // Resume from the middle: exactly the events from that revision on, from another node (which may
    // still be applying the last ones when it says `synced`, so read until the last revision).
    const middle = seen[11]!.revision
    const last = seen.at(-1)!.revision
    const resumed: WatchEvent[] = []
    const again = new AbortController()
    for await (const event of clientFor([cluster.nodes[2]!.apiUrl]).watch('watched/', {
      fromRevision: middle,
      signal: again.signal,
    })) {
      if (event.type !== 'synced') resumed.push(event)
      if (event.revision >= last) break
    }
    again.abort()
    expect(resumed.map((event) => event.revision)).toEqual(seen.slice(11).map((event) => event.revision))
  }, 60_000)

  it('refuses bad requests with JSON errors and keeps serving', async () => {
    const api = cluster.nodes[1]!.apiUrl
    const cases: [string, RequestInit, number][] = [
      ['/v1/kv/a%00b', { method: 'PUT', body: 'x' }, 400],
      [`/v1/kv/${'k'.repeat(600)}`, { method: 'PUT', body: 'x' }, 400],
      [
        '/v1/counters/c',
        { method: 'POST', body: '{"delta":', headers: { 'content-type': 'application/json' } },
        400,
      ],
      [
        '/v1/counters/c',
        { method: 'POST', body: '{"delta":"1"}', headers: { 'content-type': 'application/json' } },
        400,
      ],
      ['/v1/nothing-here', { method: 'GET' }, 404],
    ]
    for (const [path, init, status] of cases) {
      const response = await fetch(`${api}${path}`, init)
      expect(response.status, path).toBe(status)
      const body = (await response.json()) as { error?: unknown; message?: unknown }
      expect(typeof body.error, path).toBe('string')
      expect(typeof body.message, path).toBe('string')
    }
    // An oversized body is refused from its Content-Length, before the client sends it (curl's
    // `Expect: 100-continue`).
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const call = request(`${api}/v1/kv/big`, {
        method: 'PUT',
        headers: { 'content-length': String(2 * 1024 * 1024), expect: '100-continue' },
      })
      call.on('response', (response) => {
        let body = ''
        response.on('data', (chunk: Buffer) => (body += chunk.toString()))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
      })
      call.on('error', reject)
      call.flushHeaders()
    })
    expect(refused.status).toBe(413)
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'body_too_large' })
    expect((await clientFor([api]).kv.put('still/serving', 'yes')).revision).toBeGreaterThan(0)
  }, 60_000)

  it('serves Prometheus metrics: HTTP, Raft, failure detector and transport series', async () => {
    const text = await (await fetch(`${cluster.nodes[0]!.apiUrl}/metrics`)).text()
    for (const series of [
      'socketcloud_http_requests_total',
      'socketcloud_http_request_duration_seconds_bucket',
      'socketcloud_raft_term',
      'socketcloud_raft_commit_index',
      'socketcloud_raft_apply_lag_entries',
      'socketcloud_failure_detector_phi{',
      'socketcloud_transport_bytes_out_total{protocol="tcp"}',
      'process_cpu_seconds_total',
    ]) {
      expect(text).toContain(series)
    }
  }, 30_000)

  it('answers the socketcloud client commands', async () => {
    const endpoint = cluster.nodes.map((node) => node.apiUrl).join(',')
    expect(
      JSON.parse(await cli('kv', 'put', 'cli/key', 'from the cli', '--endpoint', endpoint)),
    ).toHaveProperty('revision')
    expect(await cli('kv', 'get', 'cli/key', '--endpoint', endpoint)).toBe('from the cli')
    expect(JSON.parse(await cli('counter', 'add', 'cli-counter', '5', '--endpoint', endpoint))).toEqual({
      value: 5,
    })
    const status = JSON.parse(await cli('cluster', 'status', '--endpoint', endpoint)) as {
      members: unknown[]
      leader: string
    }
    expect(status.members).toHaveLength(3)
    expect(cluster.nodes.map((node) => node.id)).toContain(status.leader)
    const missing = await cli('kv', 'get', 'cli/absent', '--endpoint', endpoint).catch(
      (error: { code?: number; stderr?: string }) => error,
    )
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('not_found') })
  }, 180_000)

  it('refuses a node-to-node connection from a peer that is not a member', async () => {
    const stranger = Ed25519Identity.generate()
    const transport = new TransportManager({
      localId: stranger.nodeId,
      upgrader: new NoiseUpgrader({ identity: stranger }),
    })
    try {
      const target = cluster.nodes[0]!
      try {
        const peer = await transport.dial(target.address, { expectedPeer: NodeId.fromHex(target.id) })
        // Our side of the handshake can finish before the node's member gate closes the connection.
        await vi.waitFor(() => expect(transport.connectedPeers().some((p) => p.equals(peer))).toBe(false), {
          timeout: 10_000,
        })
      } catch (error) {
        expect(error).toBeInstanceOf(TransportError)
      }
      expect((await clientFor([target.apiUrl]).health()).status).toBe('ok')
    } finally {
      await transport.close()
    }
  }, 30_000)

  it('keeps every acknowledged write through a SIGKILL of the leader; the killed node catches up', async () => {
    const client = clientFor()
    const acknowledged = new Map<string, string>()
    let writing = true
    let sequence = 0
    const writer = (async () => {
      while (writing) {
        const key = `durable/${sequence}`
        const value = `v${sequence++}`
        try {
          await client.kv.put(key, value)
          acknowledged.set(key, value)
        } catch (error) {
          // A write whose outcome is unknown may or may not be there; only acknowledged ones must be.
          if (!isClientError(error)) throw error
        }
      }
    })()
    await vi.waitFor(() => expect(acknowledged.size).toBeGreaterThan(20), { timeout: 20_000 })
    const leader = await cluster.leader()
    const before = acknowledged.size
    const killedAt = performance.now()
    await cluster.kill(leader)
    await vi.waitFor(() => expect(acknowledged.size).toBeGreaterThan(before + 5), {
      timeout: 30_000,
      interval: 20,
    })
    const gapMs = performance.now() - killedAt
    writing = false
    await writer
    process.stdout.write(`[failover] writes resumed within ${gapMs.toFixed(0)} ms of SIGKILL of the leader\n`)

    const survivors = clientFor(cluster.nodes.filter((node) => node !== leader).map((node) => node.apiUrl))
    for (const [key, value] of acknowledged) {
      const entry = await survivors.kv.get(key)
      expect(entry && Buffer.from(entry.value).toString(), key).toBe(value)
    }

    const restarted = cluster.restart(leader)
    const last = [...acknowledged.keys()].at(-1)!
    await vi.waitFor(
      async () => {
        const entry = await clientFor([restarted.apiUrl]).kv.get(last, { consistency: 'stale' })
        expect(entry && Buffer.from(entry.value).toString()).toBe(acknowledged.get(last))
      },
      { timeout: 60_000, interval: 250 },
    )
  }, 180_000)

  it('admits a joining node as a learner, promotes it to voter, and removes a member', async () => {
    const joiner = await cluster.join(cluster.nodes[0]!)
    const client = clientFor([cluster.nodes[0]!.apiUrl])
    await vi.waitFor(
      async () => {
        const status = await client.cluster.status()
        expect(status.members.find((member) => member.id === joiner.id)?.role).toBe('voter')
      },
      { timeout: 90_000, interval: 500 },
    )
    await client.kv.put('after/join', 'seen')
    await vi.waitFor(
      async () => {
        const entry = await clientFor([joiner.apiUrl]).kv.get('after/join', { consistency: 'stale' })
        expect(entry && Buffer.from(entry.value).toString()).toBe('seen')
      },
      { timeout: 30_000, interval: 250 },
    )

    const removed = cluster.nodes.find((node) => node !== joiner && node !== cluster.nodes[0])!
    await client.cluster.removeMember(removed.id)
    await vi.waitFor(
      async () => {
        const status = await client.cluster.status()
        expect(status.members.map((member) => member.id)).not.toContain(removed.id)
      },
      { timeout: 30_000, interval: 250 },
    )
    await cluster.retire(removed)
    expect((await client.kv.put('after/remove', 'ok')).revision).toBeGreaterThan(0)
  }, 180_000)

  it('on SIGTERM, a leader hands leadership over and exits 0', async () => {
    const leader = await cluster.leader()
    leader.child.kill('SIGTERM')
    expect(await leader.exited).toBe(0)
    const others = cluster.nodes.filter(
      (node) => node !== leader && node.child.exitCode === null && node.child.signalCode === null,
    )
    // Handed over, not merely gone: a survivor already leads the moment the old leader has exited
    // (after a plain exit they would wait out an election timeout first).
    const roles = await Promise.all(
      others.map(
        async (node) => ((await (await fetch(`${node.apiUrl}/health`)).json()) as { role: string }).role,
      ),
    )
    expect(roles).toContain('leader')
    const next = await cluster.leader()
    expect(next.id).not.toBe(leader.id)
    expect(
      (await clientFor(others.map((node) => node.apiUrl)).kv.put('after/sigterm', 'ok')).revision,
    ).toBeGreaterThan(0)
  }, 90_000)
})
