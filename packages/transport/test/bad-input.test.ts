/**
 * Goal: hostile or broken input never takes a transport down. Garbage bytes, an oversized frame
 * header, a truncated frame followed by close, a WebSocket text frame, an oversized or malformed
 * datagram and a flood of connections beyond the maximum each produce a typed `error` event; the
 * offending connection is closed (or the datagram dropped) and counted in metrics; and a well-behaved
 * peer connected to the same transport keeps working. Method: raw `node:net`, `ws` and `node:dgram`
 * clients speak to real transports on 127.0.0.1.
 */
import dgram from 'node:dgram'
import net from 'node:net'
import WebSocket from 'ws'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { MemoryMetrics, TransportError, type NodeId } from '@socketcloud/core'
import { UdpTransport, encodeDatagram, encodeFrame } from '../src/index'
import {
  counterMessage,
  createNode,
  nextEvent,
  readCounter,
  testNodeId,
  upgrader,
  type Node,
} from './helpers'

let cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

/** A listening node with metrics, a well-behaved peer connected to it, and an echo for round trips. */
async function victim(protocol: 'tcp' | 'ws', init = {}) {
  const metrics = new MemoryMetrics()
  const server = createNode({ protocols: [protocol], ...init }, testNodeId(), undefined, metrics)
  const good = createNode({ protocols: [protocol] })
  cleanup.push(
    () => good.transport.close(),
    () => server.transport.close(),
  )
  const address = await server.transport.listen(`${protocol}://127.0.0.1:0`)
  server.transport.events.on('message', ({ from, bytes }) => {
    server.transport.send(from, bytes)
  })
  const peer = await good.transport.dial(address)
  await vi.waitFor(() => expect(server.transport.connectedPeers()).toHaveLength(1))
  return { server, good, peer, address, metrics }
}

/** Proves the well-behaved peer still gets served. */
async function roundTrip(good: Node, peer: NodeId, value: number): Promise<void> {
  const reply = nextEvent(good.transport, 'message')
  expect(good.transport.send(peer, counterMessage(value)).ok).toBe(true)
  expect(readCounter((await reply).bytes)).toBe(value)
}

function portOf(address: string): number {
  return Number(/:(\d+)$/.exec(address)![1])
}

/** A raw TCP client; resolves `closed` when the server closes it. */
function rawTcp(address: string) {
  const socket = net.connect({ host: '127.0.0.1', port: portOf(address) })
  socket.on('error', () => undefined) // a reset is one of the expected outcomes
  socket.resume() // read (and discard) what the server sends, so its close is seen
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  cleanup.push(() => {
    socket.destroy()
  })
  return { socket, closed, connected }
}

/** The plaintext upgrader's hello, so a raw client can get past the handshake. */
function plaintextHello(id: NodeId): Uint8Array {
  const hello = new Uint8Array(4 + 32)
  hello.set([0x53, 0x43, 0x50, 0x01])
  hello.set(id.bytes, 4)
  return encodeFrame(hello)
}

async function rawTcpAfterHandshake(address: string) {
  const raw = rawTcp(address)
  await raw.connected
  const serverHello = new Promise<void>((resolve) => raw.socket.once('data', () => resolve()))
  raw.socket.write(plaintextHello(testNodeId()))
  // Wait for the server's hello: the connection is then upgraded on both sides.
  await serverHello
  return raw
}

describe('stream transports refuse bad input and keep serving', () => {
  it('tcp: garbage bytes before the handshake close that connection with a typed error', async () => {
    const { server, good, peer, address, metrics } = await victim('tcp')
    const error = nextEvent(server.transport, 'error')
    const raw = rawTcp(address)
    await raw.connected
    raw.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: nonsense\r\n\r\n'))
    const reported = await error
    expect(reported.error).toBeInstanceOf(TransportError)
    expect(['BAD_FRAME', 'HANDSHAKE_FAILED']).toContain(reported.error.code)
    await raw.closed
    expect(
      metrics.total('socketcloud_transport_bad_frames_total') +
        metrics.total('socketcloud_transport_handshake_failures_total'),
    ).toBeGreaterThanOrEqual(1)
    await roundTrip(good, peer, 1)
  })

  it('tcp: a frame header above frameBytesMax closes the connection before any body is read', async () => {
    const { server, good, peer, address, metrics } = await victim('tcp', { frameBytesMax: 4096 })
    const raw = await rawTcpAfterHandshake(address)
    const error = nextEvent(server.transport, 'error')
    raw.socket.write(Uint8Array.of(0x40, 0x00, 0x00, 0x00)) // announces 1 GiB
    const reported = await error
    expect(reported.error.code).toBe('BAD_FRAME')
    expect(reported.error.context.reason).toBe('OVERSIZED')
    await raw.closed
    expect(
      metrics.value('socketcloud_transport_bad_frames_total', { protocol: 'tcp', reason: 'OVERSIZED' }),
    ).toBe(1)
    await roundTrip(good, peer, 2)
  })

  it('tcp: garbage after the handshake closes that connection and is counted', async () => {
    const { server, good, peer, address, metrics } = await victim('tcp')
    const raw = await rawTcpAfterHandshake(address)
    const error = nextEvent(server.transport, 'error')
    raw.socket.write(Buffer.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5]))
    expect((await error).error.code).toBe('BAD_FRAME')
    await raw.closed
    expect(metrics.total('socketcloud_transport_bad_frames_total')).toBe(1)
    await roundTrip(good, peer, 3)
  })

  it('tcp: a truncated frame followed by close is reported as TRUNCATED', async () => {
    const { server, good, peer, address, metrics } = await victim('tcp')
    const raw = await rawTcpAfterHandshake(address)
    const error = nextEvent(server.transport, 'error')
    const frame = encodeFrame(new Uint8Array(100))
    raw.socket.end(frame.subarray(0, 40))
    const reported = await error
    expect(reported.error.code).toBe('BAD_FRAME')
    expect(reported.error.context.reason).toBe('TRUNCATED')
    expect(
      metrics.value('socketcloud_transport_bad_frames_total', { protocol: 'tcp', reason: 'TRUNCATED' }),
    ).toBe(1)
    await roundTrip(good, peer, 4)
  })

  it('tcp: a connection that never completes its handshake is cut at handshakeTimeoutMs', async () => {
    const { server, good, peer, address, metrics } = await victim('tcp', { handshakeTimeoutMs: 1_000 })
    const error = nextEvent(server.transport, 'error')
    const raw = rawTcp(address)
    await raw.connected
    expect((await error).error.code).toBe('HANDSHAKE_TIMEOUT')
    await raw.closed
    expect(metrics.total('socketcloud_transport_handshake_failures_total')).toBe(1)
    await roundTrip(good, peer, 5)
  })

  it('tcp: a flood of connections beyond connectionsMax is refused and counted', async () => {
    const { server, good, peer, address, metrics } = await victim('tcp', {
      connectionsMax: 4,
      handshakeTimeoutMs: 5_000,
    })
    const refusals: TransportError[] = []
    server.transport.events.on('error', ({ error }) => refusals.push(error))
    // One slot is the good peer; three raw sockets fill the rest (they sit in the handshake).
    const flood = Array.from({ length: 20 }, () => rawTcp(address))
    await Promise.all(flood.map((raw) => raw.connected))
    await vi.waitFor(() =>
      expect(refusals.filter((error) => error.code === 'CONNECTIONS_EXHAUSTED')).toHaveLength(17),
    )
    await vi.waitFor(() =>
      expect(
        metrics.value('socketcloud_transport_connections_refused_total', {
          protocol: 'tcp',
          reason: 'CONNECTIONS_EXHAUSTED',
        }),
      ).toBe(17),
    )
    let closedCount = 0
    for (const raw of flood) void raw.closed.then(() => closedCount++)
    await vi.waitFor(() => expect(closedCount).toBe(17))
    await roundTrip(good, peer, 6)
  })

  it('ws: a text frame closes that connection with a typed error (uWebSockets.js server)', async () => {
    const { server, good, peer, address, metrics } = await victim('ws')
    const client = new WebSocket(address)
    cleanup.push(() => client.terminate())
    // The server's hello can arrive together with the upgrade response, so listen before 'open'.
    const serverHello = new Promise<void>((resolve) => client.once('message', () => resolve()))
    await new Promise<void>((resolve) => client.once('open', () => resolve()))
    client.send(plaintextHello(testNodeId()).subarray(4), { binary: true })
    await serverHello
    const error = nextEvent(server.transport, 'error')
    const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)))
    client.send('{"not": "binary"}')
    const reported = await error
    expect(reported.error.code).toBe('BAD_FRAME')
    expect(reported.error.context.reason).toBe('TEXT_FRAME')
    expect(await closed).toBe(1003)
    expect(
      metrics.value('socketcloud_transport_bad_frames_total', { protocol: 'ws', reason: 'TEXT_FRAME' }),
    ).toBe(1)
    await roundTrip(good, peer, 7)
  })

  it('ws: a text frame before the handshake is refused too', async () => {
    const { server, good, peer, address } = await victim('ws')
    const client = new WebSocket(address)
    cleanup.push(() => client.terminate())
    await new Promise<void>((resolve) => client.once('open', () => resolve()))
    const error = nextEvent(server.transport, 'error')
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
    client.send('hello?')
    expect(['BAD_FRAME', 'HANDSHAKE_FAILED']).toContain((await error).error.code)
    await closed
    await roundTrip(good, peer, 8)
  })

  it('ws: a flood of connections beyond connectionsMax is refused', async () => {
    const { server, good, peer, address, metrics } = await victim('ws', { connectionsMax: 2 })
    const refused = nextEvent(
      server.transport,
      'error',
      ({ error }) => error.code === 'CONNECTIONS_EXHAUSTED',
    )
    const clients = Array.from({ length: 5 }, () => new WebSocket(address))
    for (const client of clients) {
      client.on('error', () => undefined)
      cleanup.push(() => client.terminate())
    }
    await refused
    await vi.waitFor(() =>
      expect(
        metrics.value('socketcloud_transport_connections_refused_total', {
          protocol: 'ws',
          reason: 'CONNECTIONS_EXHAUSTED',
        }),
      ).toBe(4),
    )
    await roundTrip(good, peer, 9)
  })
})

describe('udp refuses bad datagrams and keeps serving', () => {
  async function udpVictim() {
    const metrics = new MemoryMetrics()
    const server = new UdpTransport({ localId: testNodeId(), upgrader, metrics }, { datagramBytesMax: 1024 })
    const good = new UdpTransport({ localId: testNodeId(), upgrader }, { datagramBytesMax: 1024 })
    cleanup.push(
      () => good.close(),
      () => server.close(),
    )
    const address = await server.listen('udp://127.0.0.1:0')
    server.events.on('message', ({ from, bytes }) => {
      server.send(from, bytes)
    })
    const peer = await good.dial(address)
    const raw = dgram.createSocket('udp4')
    cleanup.push(() => new Promise<void>((resolve) => raw.close(() => resolve())))
    const sendRaw = (bytes: Uint8Array) =>
      new Promise<void>((resolve, reject) =>
        raw.send(bytes, portOf(address), '127.0.0.1', (error) => (error ? reject(error) : resolve())),
      )
    const roundTripUdp = async (value: number) => {
      const reply = nextEvent(good, 'message')
      expect(good.send(peer, counterMessage(value)).ok).toBe(true)
      expect(readCounter((await reply).bytes)).toBe(value)
    }
    return { server, metrics, sendRaw, roundTripUdp }
  }

  it('drops and counts a datagram above datagramBytesMax', async () => {
    const { server, metrics, sendRaw, roundTripUdp } = await udpVictim()
    const error = nextEvent(server, 'error')
    await sendRaw(encodeDatagram('data', testNodeId(), new Uint8Array(2000)))
    expect((await error).error.code).toBe('FRAME_TOO_LARGE')
    expect(metrics.value('socketcloud_transport_datagrams_dropped_total', { reason: 'OVERSIZED' })).toBe(1)
    await roundTripUdp(1)
  })

  it('drops and counts garbage, short and foreign-version datagrams', async () => {
    const { server, metrics, sendRaw, roundTripUdp } = await udpVictim()
    const errors: TransportError[] = []
    server.events.on('error', ({ error }) => errors.push(error))
    await sendRaw(Buffer.from('definitely not a datagram of ours, but long enough for a header'))
    await sendRaw(Uint8Array.of(0x53, 0x43))
    const future = encodeDatagram('data', testNodeId(), Uint8Array.of(1))
    future[2] = 99
    await sendRaw(future)
    await vi.waitFor(() => expect(errors).toHaveLength(3))
    expect(errors.every((error) => error.code === 'BAD_FRAME')).toBe(true)
    expect(metrics.total('socketcloud_transport_datagrams_dropped_total')).toBe(3)
    expect(server.connectedPeers()).toHaveLength(1)
    await roundTripUdp(2)
  })

  it('refuses a message that cannot fit one datagram with FRAME_TOO_LARGE', async () => {
    const { server } = await udpVictim()
    const someone = server.connectedPeers()[0]!
    const result = server.send(someone, new Uint8Array(1024))
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.error.code).toBe('FRAME_TOO_LARGE')
  })
})

describe('udp peer table', () => {
  it('drops datagrams from new senders beyond connectionsMax and keeps serving known peers', async () => {
    const metrics = new MemoryMetrics()
    const server = new UdpTransport({ localId: testNodeId(), upgrader, metrics }, { connectionsMax: 2 })
    cleanup.push(() => server.close())
    const address = await server.listen('udp://127.0.0.1:0')
    server.events.on('message', ({ from, bytes }) => {
      server.send(from, bytes)
    })
    const clients = Array.from(
      { length: 4 },
      () => new UdpTransport({ localId: testNodeId(), upgrader }, { handshakeTimeoutMs: 300 }),
    )
    for (const client of clients) cleanup.push(() => client.close())
    const refused = nextEvent(server, 'error', ({ error }) => error.code === 'CONNECTIONS_EXHAUSTED')
    const outcomes = await Promise.allSettled(clients.map((client) => client.dial(address)))
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(2)
    await refused
    expect(
      metrics.value('socketcloud_transport_datagrams_dropped_total', { reason: 'PEERS_EXHAUSTED' }),
    ).toBeGreaterThanOrEqual(2)
    const admitted = clients.filter((_, index) => outcomes[index]!.status === 'fulfilled')
    for (const [index, client] of admitted.entries()) {
      const reply = nextEvent(client, 'message')
      expect(client.send(server.localId, counterMessage(index)).ok).toBe(true)
      expect(readCounter((await reply).bytes)).toBe(index)
    }
  })
})
