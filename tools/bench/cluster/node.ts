/**
 * One replica of the benchmark cluster, as its own process: TCP transport, file log and snapshots
 * (fsync on), the key-value machine, the Raft runtime, and a minimal HTTP front end (`PUT /kv/<key>`,
 * `GET /status`, on uWebSockets.js) so the same load generator can drive this cluster and etcd's HTTP gateway.
 *
 * argv: <index> <dataDir> <httpPort> <raftPort0,raftPort1,raftPort2>
 * env: SOCKETCLOUD_BACKGROUND_WRITES=0 turns the runtime's background leader writes off (A/B runs);
 *      SOCKETCLOUD_STAGE_TRACE=<path> records stage timestamps (see stage-trace.ts);
 *      SOCKETCLOUD_GC_LOG=1 prints garbage collections of 2 ms or more on stderr;
 *      SOCKETCLOUD_SERVER_LATENCY=1 prints the put latency measured inside the node at shutdown;
 *      SOCKETCLOUD_ALLOC_PROFILE=<path> samples allocations, garbage included, into <path>.<index>
 *      (a V8 sampling heap profile; see alloc-profile-summary.ts).
 */
import { createHash } from 'node:crypto'
import uws, { type HttpResponse, type us_listen_socket } from 'uWebSockets.js'
import { NodeId, SeededRandom, systemClock } from '@socketcloud/core'
import { ConsensusRuntime, PeerConnector, raftEngineFactory } from '@socketcloud/consensus'
import { keyValueStore } from '@socketcloud/state-machines'
import { FileLogStore, FileSnapshotStore } from '@socketcloud/storage'
import { PlaintextUpgrader, TransportManager } from '@socketcloud/transport'

const [indexText, dataDir, httpPortText, raftPortsText] = process.argv.slice(2)
if (!indexText || !dataDir || !httpPortText || !raftPortsText) {
  console.error('usage: node.ts <index> <dataDir> <httpPort> <raftPorts comma-separated>')
  process.exit(2)
}
const index = Number(indexText)
const raftPorts = raftPortsText.split(',').map(Number)
const ids = raftPorts.map((_, i) => NodeId.fromBytes(createHash('sha256').update(`bench-node-${i}`).digest()))
const localId = ids[index]!

const transport = new TransportManager({ localId, upgrader: new PlaintextUpgrader() })
await transport.listen(`tcp://127.0.0.1:${raftPorts[index]}`)
const logStore = await FileLogStore.open(`${dataDir}/log`)
const snapshotStore = await FileSnapshotStore.open(`${dataDir}/snapshots`)
const kv = keyValueStore()
const runtime = new ConsensusRuntime(
  {
    transport,
    logStore,
    snapshotStore,
    stateMachine: kv.create(),
    clock: systemClock,
    engineFactory: raftEngineFactory({
      voters: ids.map((id) => id.hex),
      random: new SeededRandom(index + 1),
    }),
  },
  // etcd's defaults: 100 ms heartbeat, 1 s election timeout, a snapshot every 100,000 entries.
  {
    tickIntervalMs: 100,
    backgroundLogWrites: process.env.SOCKETCLOUD_BACKGROUND_WRITES !== '0',
    // etcd's default --snapshot-count (and our runtime's), stated so the comparison does not depend on
    // a default; SOCKETCLOUD_SNAPSHOT_INTERVAL overrides it.
    snapshotIntervalEntries: Number(process.env.SOCKETCLOUD_SNAPSHOT_INTERVAL ?? 100_000),
    // The runtime's default; SOCKETCLOUD_SNAPSHOT_STAGGER=0 snapshots every replica at the same index.
    snapshotStagger: Number(process.env.SOCKETCLOUD_SNAPSHOT_STAGGER ?? 0.5),
  },
)
if (process.env.SOCKETCLOUD_GC_LOG === '1') {
  // Diagnostic: every collection of 2 ms or more, on stderr, to line up with latency spikes.
  const { PerformanceObserver } = await import('node:perf_hooks')
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      if (entry.duration >= 2)
        console.error(
          `gc node=${index} t=${Math.round(performance.timeOrigin + entry.startTime)} ms=${entry.duration.toFixed(1)} kind=${(entry as { detail?: { kind?: number } }).detail?.kind}`,
        )
  }).observe({ entryTypes: ['gc'] })
}
const allocationProfile = process.env.SOCKETCLOUD_ALLOC_PROFILE
  ? await (
      await import('./alloc-profile')
    ).startAllocationProfile(`${process.env.SOCKETCLOUD_ALLOC_PROFILE}.${index}`)
  : null
const traceFile = process.env.SOCKETCLOUD_STAGE_TRACE
  ? `${process.env.SOCKETCLOUD_STAGE_TRACE}.${index}`
  : null
const trace = traceFile ? await import('./stage-trace') : null
trace?.instrument(runtime, logStore)
const connector = new PeerConnector(
  { transport, clock: systemClock },
  { peers: ids.flatMap((id, i) => (i === index ? [] : [[id, `tcp://127.0.0.1:${raftPorts[i]}`] as const])) },
)
if (process.env.SOCKETCLOUD_GC_LOG === '1') {
  runtime.events.on('snapshot', (snapshot) =>
    console.error(
      `snapshot node=${index} t=${Math.round(performance.timeOrigin + performance.now())} bytes=${snapshot.bytes}`,
    ),
  )
}
let leaderSeen: string | null = null
runtime.events.on('status', (status) => {
  // A leader change in the middle of a measurement explains a stall; say so on stderr.
  if (status.leader !== leaderSeen && leaderSeen !== null && status.leader !== null && index === 0)
    console.error(`node ${index}: leader changed to ${status.leader.slice(0, 8)} in term ${status.term}`)
  if (status.leader !== null) leaderSeen = status.leader
})
await runtime.start()
connector.start()

const BODY_BYTES_MAX = 1024 * 1024

function reply(response: HttpResponse, state: { aborted: boolean }, status: string, body: string): void {
  if (state.aborted) return
  response.cork(() => {
    response.writeStatus(status).writeHeader('content-type', 'application/json').end(body)
  })
}

/** Reads the whole body; uWS hands out chunks that are only valid inside the callback, so they are copied. */
function readBody(response: HttpResponse, state: { aborted: boolean }, onBody: (body: Buffer) => void): void {
  const chunks: Buffer[] = []
  let length = 0
  response.onData((chunk, isLast) => {
    length += chunk.byteLength
    if (length > BODY_BYTES_MAX) {
      if (!state.aborted) {
        state.aborted = true
        response.close()
      }
      return
    }
    chunks.push(Buffer.from(chunk.slice(0)))
    if (isLast) onBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
  })
}

async function put(key: string, value: Buffer): Promise<{ status: string; body: string }> {
  const result = kv.decodeCommandResult('put', await runtime.submit(kv.encodeCommand('put', { key, value })))
  trace?.stamp('submit-done')
  return result.ok
    ? { status: '200 OK', body: `{"revision":${result.value.revision}}` }
    : { status: '400 Bad Request', body: JSON.stringify({ error: result.code, message: result.message }) }
}

// uWebSockets.js rather than node:http: its parser and response path cost a fraction of the CPU per
// request, which on a two-core machine shared by three replicas and the load generator is throughput.
const server = uws.App()
server.get('/status', (response) => {
  const status = runtime.status()
  response
    .writeHeader('content-type', 'application/json')
    .end(JSON.stringify({ role: status.role, leader: status.leader, id: localId.hex }))
})
// Diagnostic: SOCKETCLOUD_SERVER_LATENCY=1 prints, at shutdown, how long puts took inside this node
// (request parsed → answer written), to tell the servers' tail from the load generator's.
const serverLatencies: number[] | null = process.env.SOCKETCLOUD_SERVER_LATENCY === '1' ? [] : null
server.put('/kv/*', (response, request) => {
  trace?.stamp('http-request')
  const received = serverLatencies ? performance.now() : 0
  const key = decodeURIComponent(request.getUrl().slice(4))
  const state = { aborted: false }
  response.onAborted(() => {
    state.aborted = true
  })
  readBody(response, state, (value) => {
    trace?.stamp('http-body')
    put(key, value).then(
      (answer) => {
        reply(response, state, answer.status, answer.body)
        serverLatencies?.push(performance.now() - received)
      },
      (error: unknown) =>
        reply(response, state, '503 Service Unavailable', JSON.stringify({ error: String(error) })),
    )
  })
})
server.any('/*', (response) => {
  response.writeStatus('404 Not Found').end()
})
let listenSocket: us_listen_socket | null = null
server.listen('127.0.0.1', Number(httpPortText), (socket) => {
  if (!socket) {
    console.error(`could not listen on 127.0.0.1:${httpPortText}`)
    process.exit(1)
  }
  listenSocket = socket
  console.log(`ready ${localId.hex}`)
})

async function shutdown(): Promise<void> {
  await allocationProfile?.stop()
  if (listenSocket) uws.us_listen_socket_close(listenSocket)
  server.close()
  connector.stop()
  await runtime.stop()
  await transport.close()
  await logStore.close()
  await snapshotStore.close()
  if (traceFile) trace?.dump(traceFile)
  if (serverLatencies && serverLatencies.length > 0) {
    const sorted = serverLatencies.sort((a, b) => a - b)
    const at = (q: number): string => sorted[Math.floor((sorted.length - 1) * q)]!.toFixed(1)
    console.error(
      `node ${index}: ${sorted.length} puts served, ms p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)} max ${at(1)}`,
    )
  }
  process.exit(0)
}
process.on('SIGTERM', () => {
  shutdown().catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
})
