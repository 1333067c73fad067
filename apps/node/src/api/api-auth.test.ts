/**
 * Goal: with a root public key configured, every route but /health needs a capability token whose
 * chain starts at that key; missing, unreadable, forged, tampered and expired tokens are refused with
 * 401, valid tokens that do not cover the call with 403 (each saying why), delegated tokens work
 * within what they were given, cluster/admin needs a quorum-approved chain, and the node keeps serving.
 * Method: a one-node Raft cluster with an ApiServer on 127.0.0.1 and tokens issued with
 * @socketcloud/security, driven with real fetch and `ws`.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  Ed25519Identity,
  approveCapability,
  defaultCryptoProvider,
  delegateCapability,
  formatCapability,
  issueCapability,
  type CapabilityClaims,
  type CapabilityToken,
} from '@socketcloud/security'
import { TestCluster, type TestNode } from './testing/cluster'
import { WatchClient, call, statusOf } from './testing/http'

const provider = defaultCryptoProvider()
const root = Ed25519Identity.generate(provider)
const approver = Ed25519Identity.generate(provider)
const alice = Ed25519Identity.generate(provider)
const bob = Ed25519Identity.generate(provider)
let cluster: TestCluster
let node: TestNode

beforeAll(async () => {
  cluster = await TestCluster.start(1, { auth: { rootPublicKey: root.publicKey } })
  node = cluster.nodes[0]!
  await vi.waitFor(() => expect(cluster.leader()).toBeDefined(), { timeout: 10_000, interval: 10 })
})

afterAll(async () => {
  await cluster?.stop()
})

function claims(overrides: Partial<CapabilityClaims>): CapabilityClaims {
  const now = Date.now()
  return {
    audience: alice.nodeId,
    resource: 'kv/app/*',
    abilities: ['kv/read', 'kv/write'],
    caveats: {},
    notBeforeMs: now - 60_000,
    expiresMs: now + 3_600_000,
    quorum: undefined,
    ...overrides,
  }
}

const issue = (overrides: Partial<CapabilityClaims> = {}, signer = root): CapabilityToken =>
  issueCapability(signer, claims(overrides), { provider })
const bearer = (token: CapabilityToken | string) => ({
  authorization: `Bearer ${typeof token === 'string' ? token : formatCapability(token)}`,
})

describe('capability tokens', () => {
  it('lets a covering token through and refuses other keys and abilities with 403', async () => {
    const token = bearer(issue())
    expect((await call(node.url, 'PUT', '/v1/kv/app%2Fconfig', { raw: 'v', headers: token })).status).toBe(
      200,
    )
    expect((await call(node.url, 'GET', '/v1/kv?prefix=app%2F', { headers: token })).status).toBe(200)
    const outside = await call(node.url, 'PUT', '/v1/kv/other', { raw: 'v', headers: token })
    expect(outside).toMatchObject({ status: 403, body: { error: 'forbidden' } })
    expect(outside.body['message']).toContain('kv/other')
    expect((await call(node.url, 'GET', '/v1/kv?prefix=ap', { headers: token })).status).toBe(403)
    expect((await call(node.url, 'GET', '/v1/counters/c', { headers: token })).status).toBe(403)
    const readOnly = bearer(issue({ abilities: ['kv/read'] }))
    expect((await call(node.url, 'PUT', '/v1/kv/app%2Fx', { raw: 'v', headers: readOnly })).status).toBe(403)
    expect(await statusOf(node.url, 'GET', '/v1/kv/app%2Fconfig', readOnly)).toBe(200)
    const counters = bearer(issue({ resource: 'counter/*', abilities: ['counter/*'] }))
    expect(
      (await call(node.url, 'POST', '/v1/counters/c', { body: { delta: 1 }, headers: counters })).status,
    ).toBe(200)
    const locks = bearer(issue({ resource: 'lock/jobs/*', abilities: ['lock/*'] }))
    const lock = await call(node.url, 'POST', '/v1/locks/jobs%2Fa/acquire', {
      body: { owner: 'o', ttl_ms: 100 },
      headers: locks,
    })
    expect(lock.status).toBe(200)
    expect((await call(node.url, 'GET', '/v1/locks/other', { headers: locks })).status).toBe(403)
  })

  it('refuses missing, unreadable, forged, tampered and expired tokens with 401', async () => {
    const path = '/v1/kv/app%2Fconfig'
    expect((await call(node.url, 'GET', path)).status).toBe(401)
    expect((await call(node.url, 'GET', path, { headers: { authorization: 'Basic abc' } })).status).toBe(401)
    expect((await call(node.url, 'GET', path, { headers: bearer('sct1.!!!') })).status).toBe(401)
    const forged = await call(node.url, 'GET', path, { headers: bearer(issue({}, alice)) })
    expect(forged).toMatchObject({ status: 401, body: { error: 'unauthorized' } })
    expect(forged.body['message']).toContain('UNTRUSTED_ROOT')
    const good = issue()
    const tampered = { ...good, resource: 'kv/*' }
    const refused = await call(node.url, 'GET', path, { headers: bearer(tampered) })
    expect(refused.status).toBe(401)
    expect(refused.body['message']).toContain('BAD_SIGNATURE')
    const now = Date.now()
    const expired = await call(node.url, 'GET', path, {
      headers: bearer(issue({ notBeforeMs: now - 120_000, expiresMs: now - 60_000 })),
    })
    expect(expired.status).toBe(401)
    expect(expired.body['message']).toContain('EXPIRED')
    expect((await call(node.url, 'GET', '/health')).status).toBe(200)
  })

  it('honours delegation within what was delegated', async () => {
    const toAlice = issue({ resource: 'kv/*', abilities: ['kv/read', 'kv/write'] })
    const toBob = delegateCapability(
      alice,
      toAlice,
      { ...toAlice, audience: bob.nodeId, resource: 'kv/app/*', abilities: ['kv/read'] },
      { provider },
    )
    expect(await statusOf(node.url, 'GET', '/v1/kv/app%2Fconfig', bearer(toBob))).toBe(200)
    expect(
      (await call(node.url, 'PUT', '/v1/kv/app%2Fconfig', { raw: 'x', headers: bearer(toBob) })).status,
    ).toBe(403)
    expect((await call(node.url, 'GET', '/v1/kv/zzz', { headers: bearer(toBob) })).status).toBe(403)
  })

  it('guards operations routes: /health open, /metrics and /v1/cluster need their abilities, sessions any token', async () => {
    expect((await call(node.url, 'GET', '/health')).status).toBe(200)
    expect((await fetch(`${node.url}/metrics`)).status).toBe(401)
    const metrics = await fetch(`${node.url}/metrics`, {
      headers: bearer(issue({ resource: 'metrics', abilities: ['metrics/read'] })),
    })
    expect(metrics.status).toBe(200)
    expect((await call(node.url, 'GET', '/v1/cluster', { headers: bearer(issue()) })).status).toBe(403)
    const reader = bearer(issue({ resource: 'cluster', abilities: ['cluster/read'] }))
    expect((await call(node.url, 'GET', '/v1/cluster', { headers: reader })).status).toBe(200)
    expect((await call(node.url, 'POST', '/v1/sessions')).status).toBe(401)
    expect((await call(node.url, 'POST', '/v1/sessions', { headers: bearer(issue()) })).status).toBe(200)
  })

  it('needs a quorum-approved capability for cluster/admin', async () => {
    const plainAdmin = bearer(issue({ resource: 'cluster', abilities: ['cluster/admin'] }))
    const refused = await call(node.url, 'POST', '/v1/cluster/transfer-leader', { headers: plainAdmin })
    expect(refused.status).toBe(403)
    expect(refused.body['message']).toContain('quorum')
    const quorum = { threshold: 1, authorities: [approver.publicKey] }
    const unapproved = issue({ resource: 'cluster', abilities: ['cluster/admin'], quorum })
    const missing = await call(node.url, 'POST', '/v1/cluster/transfer-leader', {
      headers: bearer(unapproved),
    })
    expect(missing.status).toBe(401)
    expect(missing.body['message']).toContain('TOO_FEW_APPROVALS')
    const approved = approveCapability(approver, unapproved, provider)
    // Past auth, the single node has nobody to hand leadership to.
    const passed = await call(node.url, 'POST', '/v1/cluster/transfer-leader', { headers: bearer(approved) })
    expect(passed).toMatchObject({ status: 400, body: { error: 'bad_request' } })
  })

  it('checks watch upgrades against the prefix', async () => {
    const base = node.url.replace('http', 'ws')
    const token = bearer(issue({ abilities: ['kv/read'] }))
    expect(await WatchClient.refusal(`${base}/v1/watch?prefix=app%2F`)).toBe(401)
    expect(await WatchClient.refusal(`${base}/v1/watch?prefix=other`, token)).toBe(403)
    const watcher = new WatchClient(`${base}/v1/watch?prefix=app%2F`, token)
    await watcher.opened
    await call(node.url, 'PUT', '/v1/kv/app%2Fwatched', { raw: 'v', headers: bearer(issue()) })
    await vi.waitFor(() => expect(watcher.events().map((event) => event['key'])).toEqual(['app/watched']))
    watcher.close()
  })
})
