/**
 * Goal: the API's limits hold and say so: connections beyond connectionsMax are closed, a client's
 * watches beyond watchersPerClientMax and all watches beyond watchersMax are refused with 429, a
 * watcher whose queue overflows is closed with 4429 (slow_consumer) and can resume, a configured body
 * limit gives 413, and invalid limits are refused at construction; the node keeps serving.
 * Method: one-node Raft clusters with small limits on 127.0.0.1, real fetch and `ws`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ConfigError } from '@socketcloud/core'
import { Registry } from 'prom-client'
import { ApiServer } from './api-server'
import { TestCluster } from './testing/cluster'
import { WatchClient, call, rawExchange } from './testing/http'

const clusters: TestCluster[] = []
afterEach(async () => {
  for (const cluster of clusters.splice(0)) await cluster.stop()
})

async function single(limits: ConstructorParameters<typeof ApiServer>[0]['limits']) {
  const cluster = await TestCluster.start(1, {
    ...(limits ? { limits } : {}),
    machine: { watchHistoryEventsMax: 100 },
  })
  clusters.push(cluster)
  await vi.waitFor(() => expect(cluster.leader()).toBeDefined(), { timeout: 10_000, interval: 10 })
  return cluster.nodes[0]!
}

describe('API limits', () => {
  it('closes connections beyond connectionsMax and serves again once one closes', async () => {
    const node = await single({ connectionsMax: 2 })
    const ws = (path: string) => new WatchClient(`${node.url.replace('http', 'ws')}${path}`)
    const first = ws('/v1/watch?prefix=a')
    const second = ws('/v1/watch?prefix=b')
    await Promise.all([first.opened, second.opened])
    // Refused at accept: closed before any request is read, so the client sees no answer.
    const port = Number(new URL(node.url).port)
    expect(await rawExchange(port, ['GET /health HTTP/1.1\r\nHost: x\r\n\r\n'])).toBe('')
    first.close()
    await vi.waitFor(async () => expect((await call(node.url, 'GET', '/health')).status).toBe(200), {
      timeout: 5_000,
      interval: 50,
    })
    second.close()
    const metrics = await (await fetch(`${node.url}/metrics`)).text()
    expect(metrics).toMatch(/socketcloud_http_refused_total\{reason="connections-max"\} [1-9]/)
  })

  it('refuses watches beyond watchersPerClientMax and watchersMax with 429', async () => {
    const perClient = await single({ watchersPerClientMax: 1 })
    const base = perClient.url.replace('http', 'ws')
    const held = new WatchClient(`${base}/v1/watch`)
    await held.opened
    expect(await WatchClient.refusal(`${base}/v1/watch`)).toBe(429)
    held.close()
    await vi.waitFor(async () => {
      const again = new WatchClient(`${base}/v1/watch`)
      await again.opened
      again.close()
    })

    const total = await single({ watchersMax: 1 })
    const totalBase = total.url.replace('http', 'ws')
    const only = new WatchClient(`${totalBase}/v1/watch`)
    await only.opened
    expect(await WatchClient.refusal(`${totalBase}/v1/watch`)).toBe(429)
    only.close()
  })

  it('closes a watcher whose queue overflows with 4429, and it resumes from its last revision', async () => {
    const node = await single({ watchQueueEventsMax: 3 })
    for (let index = 0; index < 10; index++)
      await call(node.url, 'PUT', `/v1/kv/q${index}`, { raw: `${index}` })
    // A replay of 10 events lands in the queue at once: more than it may hold.
    const slow = new WatchClient(`${node.url.replace('http', 'ws')}/v1/watch?from_revision=1`)
    await slow.opened
    await vi.waitFor(() => expect(slow.closeCode).toBe(4429))
    expect(slow.frames.at(-1)).toEqual({ type: 'error', error: 'slow_consumer' })
    const resumed = new WatchClient(`${node.url.replace('http', 'ws')}/v1/watch?from_revision=9`)
    await resumed.opened
    await vi.waitFor(() => expect(resumed.frames.some((frame) => frame['type'] === 'synced')).toBe(true))
    expect(resumed.events().map((event) => event['key'])).toEqual(['q8', 'q9'])
    resumed.close()
  })

  it('applies a configured body limit', async () => {
    const node = await single({ requestBodyBytesMax: 16 })
    expect(await call(node.url, 'PUT', '/v1/kv/small', { raw: 'x'.repeat(16) })).toMatchObject({
      status: 200,
    })
    expect(await call(node.url, 'PUT', '/v1/kv/small', { raw: 'x'.repeat(17) })).toMatchObject({
      status: 413,
      body: { error: 'body_too_large' },
    })
    expect((await call(node.url, 'GET', '/health')).status).toBe(200)
  })

  it('refuses invalid limits at construction', () => {
    const cluster = new TestCluster()
    expect(
      () =>
        new ApiServer({
          services: undefined as never,
          registry: new Registry(),
          limits: { connectionsMax: 0 },
        }),
    ).toThrow(ConfigError)
    expect(
      () =>
        new ApiServer({
          services: undefined as never,
          registry: new Registry(),
          auth: { rootPublicKey: new Uint8Array(5) },
        }),
    ).toThrow(ConfigError)
    expect(cluster.nodes).toEqual([])
  })
})
