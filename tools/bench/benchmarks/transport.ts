import { createConnection, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import WebSocket, { WebSocketServer } from 'ws'
import { NodeId } from '@socketcloud/core'
import type { Transport } from '@socketcloud/core'
import { PlaintextUpgrader, TransportManager, UdpTransport } from '@socketcloud/transport'
import type { BenchCase, BenchContext, MeasureOptions } from '../src/harness'
import { defineBenchmark } from '../src/harness'

const SIZES = [64, 4096] as const
/** Messages in flight per throughput batch (stream transports); the batch waits until all arrived. */
const STREAM_WINDOW = 1000
/** UDP has no flow control: a window that fits the receiver's socket buffer keeps loss near zero. */
const UDP_WINDOW = 64

/**
 * @socketcloud/transport over loopback: ping-pong round trip (p50/p99 µs) and one-way throughput
 * (messages/s, MB/s) for 64 B and 4 KiB messages over tcp, ws (uWebSockets.js server, `ws` client),
 * udp and mem, both ends in this process, plaintext upgrader. Baselines in the same run: a raw
 * `node:net` echo (no framing, no identity, no queue) and a plain `ws`-package server echo.
 * Throughput batches send a window of messages (waiting on `drain` under backpressure) and wait
 * until the receiver has them all, so the figure is delivered messages, not queued ones. Each
 * baseline row is measured right after the transport row it is compared with.
 */
export default defineBenchmark({
  name: 'transport',
  description:
    'ping-pong p50/p99 and one-way throughput, 64 B / 4 KiB, over tcp, ws (uWS), udp, mem vs raw net and ws',
  async run(ctx) {
    const options: MeasureOptions | undefined = ctx.quick
      ? undefined
      : { warmupMs: 500, durationMs: 1500, runs: 3 }
    const cases: BenchCase[] = []
    const rawNet: BenchCase[] = []
    const wsServer: BenchCase[] = []
    // Each baseline row is measured right after the row it is compared with, on servers that live for
    // the whole run: on a shared machine the load drifts, and a ratio is only fair within one window.
    const rawEcho = await rawNetEcho()
    const wsBaseline = await wsEcho()
    try {
      for (const protocol of ['tcp', 'ws', 'udp', 'mem'] as const) {
        const pair = await transportPair(protocol)
        try {
          for (const size of SIZES) {
            ctx.log(`${protocol} ${size} B`)
            cases.push(await pingPong(ctx, `${protocol} ping-pong ${size} B`, pair, size, options))
            if (protocol === 'tcp') {
              rawNet.push(
                await ctx.measureLatency(
                  `raw node:net ping-pong ${size} B`,
                  () => rawEcho.roundTrip(size),
                  options,
                ),
              )
            } else if (protocol === 'ws') {
              wsServer.push(
                await ctx.measureLatency(
                  `ws-server ping-pong ${size} B`,
                  () => wsBaseline.roundTrip(size),
                  options,
                ),
              )
            }
            cases.push(
              await oneWay(ctx, `${protocol} one-way ${size} B`, pair, size, protocol === 'udp', options),
            )
            if (protocol === 'tcp') {
              rawNet.push(await rawNetOneWay(ctx, `raw node:net one-way ${size} B`, rawEcho, size, options))
            } else if (protocol === 'ws') {
              wsServer.push(await wsOneWay(ctx, `ws-server one-way ${size} B`, wsBaseline, size, options))
            }
          }
        } finally {
          await pair.close()
        }
      }
    } finally {
      await rawEcho.close()
      await wsBaseline.close()
    }
    const row = (rows: BenchCase[], name: string) => rows.find((entry) => entry.case === name)
    const p50 = (rows: BenchCase[], name: string) => row(rows, name)?.p50_us ?? Number.NaN
    const rate = (rows: BenchCase[], name: string) => row(rows, name)?.ops_per_sec ?? Number.NaN
    const tcpRatio = p50(cases, 'tcp ping-pong 64 B') / p50(rawNet, 'raw node:net ping-pong 64 B')
    const wsRatios = SIZES.map((size) => {
      const latency = p50(cases, `ws ping-pong ${size} B`) / p50(wsServer, `ws-server ping-pong ${size} B`)
      const throughput = rate(cases, `ws one-way ${size} B`) / rate(wsServer, `ws-server one-way ${size} B`)
      return `${size} B: p50 ratio ${latency.toFixed(2)} (target <= 1.0), one-way ratio ${throughput.toFixed(2)} (target >= 1.0)`
    })
    return {
      name: 'transport',
      cases,
      baseline: { 'raw node:net echo': rawNet, 'ws package server echo': wsServer },
      notes: [
        `tcp/raw-net p50 ratio (64 B) ${tcpRatio.toFixed(2)} (target <= 1.5)`,
        ...wsRatios.map((line) => `ws(uWS server)/ws-server ${line}`),
        'each baseline row is measured right after the row it is compared with',
        'both ends in one process on one event loop; a 2-core machine shared with other work is noisy',
      ],
    }
  },
})

interface Pair {
  readonly client: Transport
  readonly server: Transport
  readonly peer: NodeId
  /** Messages the server has received since the pair was made. */
  received(): number
  close(): Promise<void>
}

async function transportPair(protocol: 'tcp' | 'ws' | 'udp' | 'mem'): Promise<Pair> {
  const upgrader = new PlaintextUpgrader()
  const serverId = NodeId.fromHex('a1'.repeat(32))
  const clientId = NodeId.fromHex('b2'.repeat(32))
  const make = (localId: NodeId): Transport =>
    protocol === 'udp'
      ? new UdpTransport({ localId, upgrader }, { sendQueueMessagesMax: UDP_WINDOW * 4 })
      : new TransportManager({ localId, upgrader }, { protocols: [protocol] })
  const server = make(serverId)
  const client = make(clientId)
  let received = 0
  server.events.on('message', ({ from, bytes }) => {
    received++
    // Echo only ping-pong probes (first byte 1); one-way traffic (first byte 0) is just counted.
    if (bytes[0] === 1) server.send(from, bytes)
  })
  const address = await server.listen(protocol === 'mem' ? 'mem://bench-server' : `${protocol}://127.0.0.1:0`)
  const peer = await client.dial(address)
  return {
    client,
    server,
    peer,
    received: () => received,
    close: async () => {
      await client.close()
      await server.close()
    },
  }
}

async function pingPong(
  ctx: BenchContext,
  name: string,
  pair: Pair,
  size: number,
  options: MeasureOptions | undefined,
): Promise<BenchCase> {
  const probe = new Uint8Array(size)
  probe[0] = 1
  let waiting: (() => void) | undefined
  const off = pair.client.events.on('message', () => {
    const resolve = waiting
    waiting = undefined
    resolve?.()
  })
  try {
    return await ctx.measureLatency(
      name,
      () =>
        new Promise<void>((resolve, reject) => {
          waiting = resolve
          const result = pair.client.send(pair.peer, probe.slice())
          if (!result.ok) reject(result.error)
        }),
      options,
    )
  } finally {
    off()
  }
}

async function oneWay(
  ctx: BenchContext,
  name: string,
  pair: Pair,
  size: number,
  lossy: boolean,
  options: MeasureOptions | undefined,
): Promise<BenchCase> {
  const window = lossy ? UDP_WINDOW : STREAM_WINDOW
  const message = new Uint8Array(size)
  const row = await ctx.measureThroughput(
    name,
    async () => {
      const start = pair.received()
      for (let sent = 0; sent < window;) {
        const result = pair.client.send(pair.peer, message.slice())
        if (result.ok) {
          sent++
          continue
        }
        if (result.error.code !== 'BACKPRESSURE') throw result.error
        await new Promise<void>((resolve) => {
          const off = pair.client.events.on('drain', () => {
            off()
            resolve()
          })
        })
      }
      // Lossy transports get a bounded wait: what arrived counts, what was dropped does not.
      const arrived = await waitFor(() => pair.received() - start >= window, lossy ? 200 : 60_000)
      if (!arrived && !lossy) throw new Error(`${name}: messages did not arrive`)
      const delivered = pair.received() - start
      return { operations: delivered, bytes: delivered * size }
    },
    options,
  )
  return row
}

function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  if (condition()) return Promise.resolve(true)
  const deadline = performance.now() + timeoutMs
  return new Promise((resolve) => {
    const poll = (): void => {
      if (condition()) resolve(true)
      else if (performance.now() > deadline) resolve(false)
      else setImmediate(poll)
    }
    setImmediate(poll)
  })
}

// Baseline: raw node:net echo -------------------------------------------------------------------

interface RawEcho {
  roundTrip(size: number): Promise<void>
  send(bytes: Buffer): boolean
  socket: Socket
  receivedBytes(): number
  close(): Promise<void>
}

async function rawNetEcho(): Promise<RawEcho> {
  let serverReceived = 0
  let echoing = true
  const server: Server = createServer({ noDelay: true }, (socket) => {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      serverReceived += chunk.length
      if (echoing) socket.write(chunk)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const socket = createConnection({ port, host: '127.0.0.1', noDelay: true })
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  let pendingBytes = 0
  let waiting: (() => void) | undefined
  socket.on('data', (chunk: Buffer) => {
    pendingBytes -= chunk.length
    if (pendingBytes <= 0 && waiting) {
      const resolve = waiting
      waiting = undefined
      resolve()
    }
  })
  const buffers = new Map<number, Buffer>()
  return {
    socket,
    roundTrip(size) {
      echoing = true
      let buffer = buffers.get(size)
      if (!buffer) buffers.set(size, (buffer = Buffer.alloc(size, 1)))
      pendingBytes += size
      return new Promise<void>((resolve) => {
        waiting = resolve
        socket.write(buffer)
      })
    },
    send(bytes) {
      echoing = false
      return socket.write(bytes)
    },
    receivedBytes: () => serverReceived,
    close: async () => {
      socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

async function rawNetOneWay(
  ctx: BenchContext,
  name: string,
  echo: RawEcho,
  size: number,
  options: MeasureOptions | undefined,
): Promise<BenchCase> {
  const message = Buffer.alloc(size)
  return ctx.measureThroughput(
    name,
    async () => {
      const target = echo.receivedBytes() + STREAM_WINDOW * size
      for (let sent = 0; sent < STREAM_WINDOW; sent++) {
        if (!echo.send(message))
          await new Promise<void>((resolve) => echo.socket.once('drain', () => resolve()))
      }
      await waitFor(() => echo.receivedBytes() >= target, 60_000)
      return { operations: STREAM_WINDOW, bytes: STREAM_WINDOW * size }
    },
    options,
  )
}

// Baseline: plain `ws` server echo -----------------------------------------------------------------

interface WsEcho {
  roundTrip(size: number): Promise<void>
  client: WebSocket
  received(): number
  close(): Promise<void>
}

async function wsEcho(): Promise<WsEcho> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  let received = 0
  server.on('connection', (socket) => {
    socket.on('message', (data: Buffer, isBinary) => {
      received++
      if ((data[0] ?? 0) === 1) socket.send(data, { binary: isBinary })
    })
  })
  const { port } = server.address() as AddressInfo
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false })
  await new Promise<void>((resolve) => client.once('open', () => resolve()))
  let waiting: (() => void) | undefined
  client.on('message', () => {
    const resolve = waiting
    waiting = undefined
    resolve?.()
  })
  const probes = new Map<number, Buffer>()
  return {
    client,
    received: () => received,
    roundTrip(size) {
      let probe = probes.get(size)
      if (!probe) probes.set(size, (probe = Buffer.alloc(size, 1)))
      const message = probe
      return new Promise<void>((resolve) => {
        waiting = resolve
        client.send(message, { binary: true })
      })
    },
    close: async () => {
      client.terminate()
      for (const socket of server.clients) socket.terminate()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

async function wsOneWay(
  ctx: BenchContext,
  name: string,
  echo: WsEcho,
  size: number,
  options: MeasureOptions | undefined,
): Promise<BenchCase> {
  const message = Buffer.alloc(size)
  return ctx.measureThroughput(
    name,
    async () => {
      const target = echo.received() + STREAM_WINDOW
      for (let sent = 0; sent < STREAM_WINDOW; sent++) echo.client.send(message, { binary: true })
      await waitFor(() => echo.received() >= target, 60_000)
      return { operations: STREAM_WINDOW, bytes: STREAM_WINDOW * size }
    },
    options,
  )
}
