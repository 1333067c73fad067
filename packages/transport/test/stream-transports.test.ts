/**
 * Goal: each stream transport (tcp, ws with the uWebSockets.js server, mem) does what its users rely
 * on: request/response, a 1 MiB message, 10,000 messages in order on one connection, reconnection
 * after the peer goes away and comes back, graceful close that delivers what was queued, and
 * keepalive/idle handling. Method: real sockets on 127.0.0.1 with OS-chosen ports; every wait is on
 * an event or a condition, never a fixed sleep. For "the peer restarts" these tests close the peer's
 * transport and listen again on the same port with the same identity (the TCP child-process variant
 * lives in process-restart.test.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { MemoryMetrics } from '@socketcloud/core'
import { MemoryNetwork } from '../src/index'
import {
  counterMessage,
  createNode,
  nextEvent,
  patternBytes,
  readCounter,
  sendAll,
  testNodeId,
  type Node,
} from './helpers'

const protocols = [
  { name: 'tcp', listen: () => 'tcp://127.0.0.1:0' },
  { name: 'ws', listen: () => 'ws://127.0.0.1:0' },
  { name: 'mem', listen: (label: string) => `mem://${label}` },
] as const

let open: Node[] = []
afterEach(async () => {
  await Promise.all(open.map((node) => node.transport.close()))
  open = []
})

describe.each(protocols)('$name transport', ({ name, listen }) => {
  const memoryNetwork = new MemoryNetwork()
  let labels = 0
  const node = (init = {}, id = testNodeId()) => {
    const created = createNode({ protocols: [name === 'ws' ? 'ws' : name], ...init }, id, memoryNetwork)
    open.push(created)
    return created
  }
  const listenAddress = () => listen(`${name}-${++labels}`)

  async function pair(init = {}) {
    const server = node(init)
    const client = node(init)
    const address = await server.transport.listen(listenAddress())
    const serverSeesClient = nextEvent(server.transport, 'peer:connect')
    const peer = await client.transport.dial(address)
    await serverSeesClient
    return { server, client, address, peer }
  }

  it('does request/response round trips', async () => {
    const { server, client, peer } = await pair()
    server.transport.events.on('message', ({ from, bytes }) => {
      server.transport.send(from, counterMessage(readCounter(bytes) + 1000))
    })
    for (let index = 0; index < 50; index++) {
      const reply = nextEvent(client.transport, 'message')
      expect(client.transport.send(peer, counterMessage(index)).ok).toBe(true)
      const { from, bytes } = await reply
      expect(from.equals(server.id)).toBe(true)
      expect(readCounter(bytes)).toBe(index + 1000)
    }
  })

  it('carries a 1 MiB message intact in both directions', async () => {
    const { server, client, peer } = await pair()
    const large = patternBytes(1024 * 1024, 99)
    server.transport.events.on('message', ({ from, bytes }) => {
      server.transport.send(from, bytes)
    })
    const echoed = nextEvent(client.transport, 'message')
    expect(client.transport.send(peer, large.slice()).ok).toBe(true)
    const { bytes } = await echoed
    expect(bytes.length).toBe(large.length)
    expect(Buffer.from(bytes).equals(Buffer.from(large))).toBe(true)
  })

  it('keeps 10,000 messages in order on one connection, honouring backpressure', async () => {
    const { server, client, peer } = await pair({ sendQueueMessagesMax: 500 })
    const count = 10_000
    await sendAll(
      client.transport,
      peer,
      Array.from({ length: count }, (_, index) => counterMessage(index, 16 + (index % 100))),
    )
    await vi.waitFor(() => expect(server.inbox.length).toBe(count), { timeout: 20_000, interval: 5 })
    server.inbox.forEach((message, index) => {
      expect(readCounter(message.bytes)).toBe(index)
      expect(message.bytes.length).toBe(16 + (index % 100))
    })
    expect(client.transport.peerConnections(peer)).toHaveLength(1)
  })

  it('refuses a message above frameBytesMax with FRAME_TOO_LARGE and keeps the connection', async () => {
    const { server, client, peer } = await pair({ frameBytesMax: 1024 })
    const refused = client.transport.send(peer, new Uint8Array(1025))
    expect(refused.ok).toBe(false)
    if (!refused.ok) expect(refused.error.code).toBe('FRAME_TOO_LARGE')
    expect(client.transport.send(peer, new Uint8Array(1024)).ok).toBe(true)
    await vi.waitFor(() => expect(server.inbox).toHaveLength(1))
  })

  it('reports BACKPRESSURE when the queue is full and emits drain once it empties', async () => {
    const { server, client, peer } = await pair({ sendQueueMessagesMax: 10 })
    for (let index = 0; index < 10; index++)
      expect(client.transport.send(peer, counterMessage(index)).ok).toBe(true)
    const drained = nextEvent(client.transport, 'drain')
    const refused = client.transport.send(peer, counterMessage(10))
    expect(refused.ok).toBe(false)
    if (!refused.ok) expect(refused.error.code).toBe('BACKPRESSURE')
    expect((await drained).peer.equals(peer)).toBe(true)
    expect(client.transport.send(peer, counterMessage(10)).ok).toBe(true)
    await vi.waitFor(() =>
      expect(server.inbox.map((message) => readCounter(message.bytes))).toEqual([...Array(11).keys()]),
    )
  })

  it('delivers everything queued before a graceful close', async () => {
    const { server, client, peer } = await pair()
    const count = 3_000
    for (let index = 0; index < count; index++) {
      expect(client.transport.send(peer, counterMessage(index, 256)).ok).toBe(true)
    }
    // Nothing has been flushed yet (flushes run after this synchronous loop); close must drain it all.
    expect(client.transport.queueDepth(peer).messages).toBe(count)
    const serverSeesDisconnect = nextEvent(server.transport, 'peer:disconnect')
    await client.transport.close()
    await serverSeesDisconnect
    expect(server.inbox.map((message) => readCounter(message.bytes))).toEqual([...Array(count).keys()])
  })

  it('reconnects by itself when the peer goes away and comes back on the same address', async () => {
    const serverId = testNodeId()
    const first = node({}, serverId)
    const client = node({ reconnectDelayInitialMs: 10, reconnectDelayMaxMs: 100 })
    const address = await first.transport.listen(listenAddress())
    const peer = await client.transport.dial(address)
    const reconnecting = nextEvent(client.transport, 'peer:reconnecting')
    const disconnected = nextEvent(client.transport, 'peer:disconnect')
    await first.transport.close()
    expect((await disconnected).peer.equals(serverId)).toBe(true)
    const { attempt, delayMs } = await reconnecting
    expect(attempt).toBe(1)
    expect(delayMs).toBeLessThanOrEqual(10)

    const second = node({}, serverId)
    const reconnected = nextEvent(client.transport, 'peer:connect')
    await second.transport.listen(address)
    expect((await reconnected).peer.equals(serverId)).toBe(true)
    second.transport.events.on('message', ({ from, bytes }) => second.transport.send(from, bytes))
    const echo = nextEvent(client.transport, 'message')
    expect(client.transport.send(peer, counterMessage(7)).ok).toBe(true)
    expect(readCounter((await echo).bytes)).toBe(7)
  })

  it('does not reconnect after hangUp', async () => {
    const { client, peer } = await pair()
    let reconnects = 0
    client.transport.events.on('peer:reconnecting', () => reconnects++)
    await client.transport.hangUp(peer)
    expect(client.transport.connectedPeers()).toEqual([])
    // Dial again to prove the transport still works; no reconnect was scheduled in between.
    expect(reconnects).toBe(0)
  })

  it('keeps an idle connection alive with keepalives', async () => {
    const metrics = new MemoryMetrics()
    const server = node({ keepaliveIntervalMs: 25, idleTimeoutMs: 500 })
    const client = createNode(
      { protocols: [name], keepaliveIntervalMs: 25, idleTimeoutMs: 500 },
      testNodeId(),
      memoryNetwork,
      metrics,
    )
    open.push(client)
    const address = await server.transport.listen(listenAddress())
    const peer = await client.transport.dial(address)
    let disconnects = 0
    client.transport.events.on('peer:disconnect', () => disconnects++)
    server.transport.events.on('peer:disconnect', () => disconnects++)
    // Sixty keepalives at 25 ms cover three idle timeouts with no application traffic at all. (The idle
    // timeout is generous so a stalled, loaded test machine does not trip it.)
    await vi.waitFor(
      () => expect(metrics.total('socketcloud_transport_keepalives_in_total')).toBeGreaterThanOrEqual(60),
      {
        timeout: 10_000,
        interval: 10,
      },
    )
    expect(disconnects).toBe(0)
    expect(client.transport.peerConnections(peer)[0]?.state).toBe('open')
    const echo = nextEvent(server.transport, 'message')
    expect(client.transport.send(peer, counterMessage(1)).ok).toBe(true)
    await echo
  })

  it('closes a connection whose peer falls silent (idle timeout) and reconnects', async () => {
    // The server sends no keepalives, so the client hears nothing and must time the connection out.
    const server = node({ keepaliveIntervalMs: 0, idleTimeoutMs: 0 })
    const client = node({ keepaliveIntervalMs: 0, idleTimeoutMs: 150 })
    const address = await server.transport.listen(listenAddress())
    const disconnected = nextEvent(client.transport, 'peer:disconnect')
    const peer = await client.transport.dial(address)
    const reconnecting = nextEvent(client.transport, 'peer:reconnecting')
    const { error } = await disconnected
    expect(error?.code).toBe('IDLE_TIMEOUT')
    await reconnecting
    await vi.waitFor(() => expect(client.transport.connectedPeers().some((id) => id.equals(peer))).toBe(true))
  })
})
