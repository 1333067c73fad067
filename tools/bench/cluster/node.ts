/**
 * One replica of the benchmark cluster, as its own process: TCP transport, file log and snapshots
 * (fsync on), the key-value machine, the Raft runtime, and a minimal HTTP front end (`PUT /kv/<key>`,
 * `GET /status`) so the same load generator can drive this cluster and etcd's HTTP gateway.
 *
 * argv: <index> <dataDir> <httpPort> <raftPort0,raftPort1,raftPort2>
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
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
  { tickIntervalMs: 50 },
)
const connector = new PeerConnector(
  { transport, clock: systemClock },
  { peers: ids.flatMap((id, i) => (i === index ? [] : [[id, `tcp://127.0.0.1:${raftPorts[i]}`] as const])) },
)
await runtime.start()
connector.start()

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    request.on('data', (chunk: Buffer) => {
      length += chunk.length
      if (length > 1024 * 1024) request.destroy(new Error('body over 1 MiB'))
      else chunks.push(chunk)
    })
    request.on('end', () => resolve(Buffer.concat(chunks)))
    request.on('error', reject)
  })
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method === 'GET' && request.url === '/status') {
    const status = runtime.status()
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ role: status.role, leader: status.leader, id: localId.hex }))
    return
  }
  if (request.method === 'PUT' && request.url?.startsWith('/kv/')) {
    const key = decodeURIComponent(request.url.slice(4))
    const value = await readBody(request)
    const result = kv.decodeCommandResult(
      'put',
      await runtime.submit(kv.encodeCommand('put', { key, value })),
    )
    response.writeHead(result.ok ? 200 : 400, { 'content-type': 'application/json' })
    response.end(
      JSON.stringify(
        result.ok ? { revision: result.value.revision } : { error: result.code, message: result.message },
      ),
    )
    return
  }
  response.writeHead(404).end()
}

const server = createServer((request, response) => {
  handle(request, response).catch((error: unknown) => {
    response.writeHead(503, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ error: String(error) }))
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(httpPortText), '127.0.0.1', () => console.log(`ready ${localId.hex}`))

async function shutdown(): Promise<void> {
  server.close()
  connector.stop()
  await runtime.stop()
  await transport.close()
  await logStore.close()
  await snapshotStore.close()
  process.exit(0)
}
process.on('SIGTERM', () => {
  shutdown().catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
})
