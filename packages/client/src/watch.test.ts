import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { WebSocketServer } from 'ws'
import type WebSocket from 'ws'
import { CompactedError, SocketCloudClientError } from './errors'
import type { WatchEvent } from './core/watch-events'
import { ScriptedCluster } from './testing/scripted-cluster'
import { deadEndpoint, recordingClient, rejectionOf } from './testing/helpers'
import type { Watch } from './watch'

// Goal: a watch delivers every put and delete under its prefix exactly once and in revision order, across
// dropped connections and dead nodes; it reports compaction and refusals as typed errors, stops on abort,
// and never buffers more than its limit. Method: scripted endpoints sharing one store serve the WebSocket
// contract from memory; for server misbehaviour the contract does not script (replayed duplicates, no
// pongs, garbage frames) a raw `ws` server stands in.
let cluster: ScriptedCluster

beforeEach(async () => {
  cluster = await ScriptedCluster.start(3)
})
afterEach(async () => {
  await cluster.stop()
})

const text = new TextDecoder()
const describeEvent = (event: WatchEvent): string =>
  event.type === 'put'
    ? `put ${event.key}=${text.decode(event.value)} @${event.revision}`
    : event.type === 'delete'
      ? `delete ${event.key} @${event.revision}`
      : `synced @${event.revision}`

async function take(iterator: AsyncIterator<WatchEvent>, count: number): Promise<string[]> {
  const seen: string[] = []
  while (seen.length < count) {
    const next = await iterator.next()
    if (next.done === true) throw new Error(`watch ended after ${seen.join(', ')}`)
    seen.push(describeEvent(next.value))
  }
  return seen
}

function connections(watch: Watch): Array<{ endpoint: string; fromRevision: number | undefined }> {
  const seen: Array<{ endpoint: string; fromRevision: number | undefined }> = []
  watch.on('connected', (connection) => seen.push(connection))
  return seen
}

describe('watch', () => {
  it('replays history from a revision, marks the catch-up, then streams live changes', async () => {
    const { client } = recordingClient(cluster.urls)
    await client.kv.put('k/1', 'a')
    await client.kv.put('x', 'outside')
    await client.kv.put('k/2', 'b')
    const watch = client.watch('k/', { fromRevision: 1 })
    const iterator = watch[Symbol.asyncIterator]()
    expect(await take(iterator, 3)).toEqual(['put k/1=a @1', 'put k/2=b @3', 'synced @3'])
    const upgrade = cluster.endpoints[0]!.requests.find((request) => request.method === 'UPGRADE')!
    expect(upgrade.url).toBe('/v1/watch?prefix=k%2F&from_revision=1')
    await client.kv.delete('k/1')
    await client.kv.put('x', 'still outside')
    await client.kv.put('k/3', 'c')
    expect(await take(iterator, 2)).toEqual(['delete k/1 @4', 'put k/3=c @6'])
    expect(watch.lastRevision).toBe(6)
    watch.close()
    expect(await iterator.next()).toEqual({ done: true, value: undefined })
  })

  it('starts from the next revision when no fromRevision is given, and sends the token', async () => {
    const { client } = recordingClient(cluster.urls, { token: 'tok' })
    await client.kv.put('old', '1')
    const watch = client.watch('')
    const iterator = watch[Symbol.asyncIterator]()
    expect(await take(iterator, 1)).toEqual(['synced @1'])
    const upgrade = cluster.endpoints[0]!.requests.find((request) => request.method === 'UPGRADE')!
    expect(upgrade.url).toBe('/v1/watch?prefix=')
    expect(upgrade.headers.authorization).toBe('Bearer tok')
    await client.kv.put('new', '2')
    expect(await take(iterator, 1)).toEqual(['put new=2 @2'])
    watch.close()
  })

  it('fails over to another node and resumes after the last revision it delivered', async () => {
    const { client } = recordingClient(cluster.urls)
    await client.kv.put('a', '1')
    const watch = client.watch('', { fromRevision: 1 })
    const seen = connections(watch)
    const iterator = watch[Symbol.asyncIterator]()
    expect(await take(iterator, 2)).toEqual(['put a=1 @1', 'synced @1'])
    await client.kv.put('a', '2')
    expect(await take(iterator, 1)).toEqual(['put a=2 @2'])

    await cluster.endpoints[0]!.stop()
    await client.kv.put('b', '3')
    await client.kv.delete('a')
    expect(await takeChanges(iterator, 2)).toEqual(['put b=3 @3', 'delete a @4'])
    expect(seen.at(-1)).toEqual({ endpoint: cluster.endpoints[1]!.url, fromRevision: 3 })
    expect(watch.duplicatesDropped).toBe(0)
    watch.close()
  })

  it('reconnects to the same node after a slow-consumer close', async () => {
    const { client } = recordingClient(cluster.urls)
    const watch = client.watch('')
    const seen = connections(watch)
    const iterator = watch[Symbol.asyncIterator]()
    expect(await take(iterator, 1)).toEqual(['synced @0'])
    await client.kv.put('a', '1')
    expect(await take(iterator, 1)).toEqual(['put a=1 @1'])
    cluster.endpoints[0]!.dropWatchers(4429)
    await vi.waitFor(() => expect(seen).toHaveLength(2))
    expect(seen[1]).toEqual({ endpoint: cluster.endpoints[0]!.url, fromRevision: 2 })
    await client.kv.put('b', '2')
    expect(await takeChanges(iterator, 1)).toEqual(['put b=2 @2'])
    watch.close()
  })

  it('throws CompactedError when the history it needs is gone', async () => {
    const { client } = recordingClient(cluster.urls)
    for (let index = 0; index < 6; index++) await client.kv.put(`k${index}`, 'v')
    cluster.compact(4)
    const watch = client.watch('', { fromRevision: 2 })
    const error = await rejectionOf(async () => {
      for await (const event of watch) throw new Error(`unexpected ${describeEvent(event)}`)
    })
    expect(error).toBeInstanceOf(CompactedError)
    expect(error).toMatchObject({ code: 'compacted', compactRevision: 4 })
    const fresh = await client.kv.list()
    const resumed = client.watch('', { fromRevision: fresh.revision + 1 })
    expect(await take(resumed[Symbol.asyncIterator](), 1)).toEqual(['synced @6'])
    resumed.close()
  })

  it('ends the iteration when its signal aborts, and closes the socket', async () => {
    const { client } = recordingClient(cluster.urls)
    const controller = new AbortController()
    const watch = client.watch('', { signal: controller.signal })
    const events: string[] = []
    const loop = (async () => {
      for await (const event of watch) {
        events.push(describeEvent(event))
        if (event.type === 'synced') controller.abort()
      }
    })()
    await loop
    expect(events).toEqual(['synced @0'])
    await vi.waitFor(() => expect(cluster.endpoints[0]!.watchers).toBe(0))
  })

  it('closes every open watch when the client closes', async () => {
    const { client } = recordingClient(cluster.urls)
    const watches = [client.watch('a'), client.watch('b')]
    const ended: Array<Error | undefined> = []
    for (const watch of watches) watch.on('ended', ({ error }) => ended.push(error))
    await vi.waitFor(() => expect(cluster.endpoints[0]!.watchers).toBe(2))
    client.close()
    expect(ended).toEqual([undefined, undefined])
    for (const watch of watches)
      expect(await watch[Symbol.asyncIterator]().next()).toMatchObject({ done: true })
    await vi.waitFor(() => expect(cluster.endpoints[0]!.watchers).toBe(0))
    expect(client.watch('c', { signal: AbortSignal.abort() }).ended).toBe(true)
  })

  it('closes when the loop breaks', async () => {
    const { client } = recordingClient(cluster.urls)
    const watch = client.watch('')
    for await (const event of watch) if (event.type === 'synced') break
    await vi.waitFor(() => expect(cluster.endpoints[0]!.watchers).toBe(0))
    expect(() => watch[Symbol.asyncIterator]()).toThrow(SocketCloudClientError)
  })

  it('surfaces a refused upgrade as its typed error without reconnecting', async () => {
    const node = cluster.endpoints[0]!
    node.refuseUpgrades({ status: 401, body: { error: 'unauthorized', message: 'token expired' } })
    const { client, sleeps } = recordingClient(cluster.urls)
    const error = await rejectionOf(async () => {
      for await (const _event of client.watch('')) break
    })
    expect(error).toMatchObject({ code: 'unauthorized', status: 401, message: 'token expired' })
    expect(sleeps).toHaveLength(0)
  })

  it('moves on from a node refusing with 503, waiting at least Retry-After', async () => {
    cluster.endpoints[0]!.refuseUpgrades({
      status: 503,
      body: { error: 'no_leader', outcome: 'not_applied' },
      headers: { 'retry-after': '1' },
    })
    const { client, sleeps } = recordingClient(cluster.urls)
    const watch = client.watch('')
    const seen = connections(watch)
    expect(await take(watch[Symbol.asyncIterator](), 1)).toEqual(['synced @0'])
    expect(seen.map((connection) => connection.endpoint)).toEqual([cluster.endpoints[1]!.url])
    expect(sleeps[0]).toBeGreaterThanOrEqual(1000)
    watch.close()
  })

  it('gives up with unreachable after reconnectAttemptsMax failures in a row', async () => {
    const { client, sleeps } = recordingClient([await deadEndpoint(), await deadEndpoint()], {
      watch: { reconnectAttemptsMax: 3 },
    })
    const error = await rejectionOf(async () => {
      for await (const _event of client.watch('')) break
    })
    expect(error).toMatchObject({ code: 'unreachable' })
    expect(sleeps).toHaveLength(3)
  })

  it('never queues more than queueEventsMax for a consumer that is not reading, and loses nothing', async () => {
    const { client } = recordingClient(cluster.urls, { watch: { queueEventsMax: 4 } })
    const watch = client.watch('q/')
    const iterator = watch[Symbol.asyncIterator]()
    expect(await take(iterator, 1)).toEqual(['synced @0'])
    const total = 60
    for (let index = 1; index <= total; index++) await client.kv.put(`q/${index}`, String(index))
    await vi.waitFor(() => expect(watch.queuedEvents).toBe(4))
    const revisions: number[] = []
    while (revisions.length < total) {
      expect(watch.queuedEvents).toBeLessThanOrEqual(4)
      const next = await iterator.next()
      if (next.done === true) throw new Error('watch ended')
      if (next.value.type !== 'synced') revisions.push(next.value.revision)
    }
    expect(revisions).toEqual(Array.from({ length: total }, (_, index) => index + 1))
    watch.close()
  })
})

describe('watch against a misbehaving server', () => {
  let server: ReturnType<typeof createServer>
  let wss: WebSocketServer
  let url: string
  let onConnection: (socket: WebSocket, requestUrl: string, count: number) => void
  let count = 0

  beforeEach(async () => {
    count = 0
    server = createServer()
    wss = new WebSocketServer({ server, autoPong: false })
    wss.on('connection', (socket, request) => onConnection(socket, request.url ?? '', ++count))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterEach(async () => {
    for (const client of wss.clients) client.terminate()
    await new Promise<void>((resolve) => wss.close(() => resolve()))
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  const put = (key: string, revision: number) =>
    JSON.stringify({ type: 'put', key, value: 'dg==', revision, create_revision: revision, version: 1 })

  it('drops events a reconnect replays again', async () => {
    const requestUrls: string[] = []
    onConnection = (socket, requestUrl, index) => {
      requestUrls.push(requestUrl)
      if (index === 1) {
        socket.send(put('a', 1))
        socket.send(put('b', 2), () => socket.terminate())
      } else {
        // This server ignores from_revision and replays from the start.
        for (const [key, revision] of [
          ['a', 1],
          ['b', 2],
          ['c', 3],
        ] as const)
          socket.send(put(key, revision))
        socket.send(JSON.stringify({ type: 'synced', revision: 3 }))
      }
    }
    const { client } = recordingClient([url])
    const watch = client.watch('', { fromRevision: 1 })
    expect(await take(watch[Symbol.asyncIterator](), 4)).toEqual([
      'put a=v @1',
      'put b=v @2',
      'put c=v @3',
      'synced @3',
    ])
    expect(watch.duplicatesDropped).toBe(2)
    expect(requestUrls).toEqual(['/v1/watch?prefix=&from_revision=1', '/v1/watch?prefix=&from_revision=3'])
    watch.close()
  })

  it('stays within queueEventsMax when many frames arrive in one read, resuming after the last queued one', async () => {
    const total = 30
    const requestUrls: string[] = []
    onConnection = (socket, requestUrl) => {
      requestUrls.push(requestUrl)
      const from = Number(new URL(requestUrl, 'http://x').searchParams.get('from_revision') ?? 1)
      // Corking makes every frame leave in one TCP write, so the client parses them all in one go: pausing
      // the socket cannot stop them and the client must shed the excess instead of queueing it.
      const tcp = (socket as unknown as { _socket: { cork(): void; uncork(): void } })._socket
      tcp.cork()
      for (let revision = from; revision <= total; revision++) socket.send(put(`k${revision}`, revision))
      process.nextTick(() => tcp.uncork())
    }
    const { client } = recordingClient([url], { watch: { queueEventsMax: 4 } })
    const watch = client.watch('', { fromRevision: 1 })
    const iterator = watch[Symbol.asyncIterator]()
    await vi.waitFor(() => expect(watch.queuedEvents).toBe(4))
    const revisions: number[] = []
    while (revisions.length < total) {
      expect(watch.queuedEvents).toBeLessThanOrEqual(4)
      const next = await iterator.next()
      if (next.done === true) throw new Error('watch ended')
      revisions.push(next.value.revision)
    }
    expect(revisions).toEqual(Array.from({ length: total }, (_, index) => index + 1))
    expect(requestUrls.length).toBeGreaterThan(1)
    expect(requestUrls[1]).toBe('/v1/watch?prefix=&from_revision=5')
    watch.close()
  })

  it('drops a connection whose peer stops answering pings, and reconnects', async () => {
    onConnection = (socket) => socket.send(JSON.stringify({ type: 'synced', revision: 0 }))
    const { client } = recordingClient([url], { watch: { pingIntervalMs: 20 } })
    const watch = client.watch('')
    const seen = connections(watch)
    await vi.waitFor(() => expect(seen.length).toBeGreaterThanOrEqual(2))
    watch.close()
  })

  it.each([
    ['not json', 'garbage'],
    ['a put without a revision', JSON.stringify({ type: 'put', key: 'a', value: 'dg==' })],
    [
      'bad base64',
      JSON.stringify({ type: 'put', key: 'a', value: '@@', revision: 1, create_revision: 1, version: 1 }),
    ],
  ])('fails with bad_response on %s', async (_name, frame) => {
    onConnection = (socket) => socket.send(frame)
    const { client } = recordingClient([url])
    const error = await rejectionOf(async () => {
      for await (const _event of client.watch('')) break
    })
    expect(error).toMatchObject({ code: 'bad_response' })
  })

  it('skips frame types it does not know', async () => {
    onConnection = (socket) => {
      socket.send(JSON.stringify({ type: 'progress', revision: 9 }))
      socket.send(put('a', 1))
    }
    const { client } = recordingClient([url])
    const watch = client.watch('')
    expect(await take(watch[Symbol.asyncIterator](), 1)).toEqual(['put a=v @1'])
    expect(watch.unknownFramesSkipped).toBe(1)
    watch.close()
  })
})

async function takeChanges(iterator: AsyncIterator<WatchEvent>, count: number): Promise<string[]> {
  const seen: string[] = []
  while (seen.length < count) {
    const next = await iterator.next()
    if (next.done === true) throw new Error(`watch ended after ${seen.join(', ')}`)
    if (next.value.type !== 'synced') seen.push(describeEvent(next.value))
  }
  return seen
}
