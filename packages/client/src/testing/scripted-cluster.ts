import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { WebSocketServer } from 'ws'
import type WebSocket from 'ws'

/**
 * A small in-memory implementation of the node API contract (notes/API.md) served over real HTTP and
 * WebSocket on 127.0.0.1, for the client's tests. Several endpoints share one state, like the nodes of one
 * cluster, and each can be scripted to misbehave (refuse, hang, lose the answer after applying, answer
 * 503/504/429 with Retry-After). It is a contract double, not a replicated store: the real node is tested
 * end to end in apps/node.
 */

export interface RecordedRequest {
  readonly method: string
  /** The request target exactly as sent (still percent-encoded). */
  readonly url: string
  readonly headers: IncomingMessage['headers']
  readonly body: Buffer
}

export type Behaviour =
  /** Answer with this instead of serving. */
  | {
      readonly kind: 'respond'
      readonly status: number
      readonly body?: unknown
      readonly headers?: Record<string, string>
      readonly raw?: string
    }
  /** Never answer (the client's timeout fires). */
  | { readonly kind: 'hang' }
  /** Serve (apply) the request, then destroy the connection instead of answering. */
  | { readonly kind: 'apply_then_drop' }
  /** Destroy the connection without serving. */
  | { readonly kind: 'drop' }

interface ScriptEntry {
  readonly behaviour: Behaviour
  readonly when: (request: RecordedRequest) => boolean
  remaining: number
}

interface Answer {
  status: number
  headers: Record<string, string>
  body: Buffer
}

interface StoredKey {
  value: Buffer
  createRevision: number
  modRevision: number
  version: number
}

type HistoryEvent =
  | { type: 'put'; key: string; value: string; revision: number; create_revision: number; version: number }
  | { type: 'delete'; key: string; revision: number }

interface Lock {
  holder: string
  token: number
  expiresAt: number
}

interface Watcher {
  readonly socket: WebSocket
  readonly prefix: string
  readonly endpoint: ScriptedEndpoint
}

const BODY_BYTES_MAX = 1024 * 1024
const NOT_SESSION = (request: RecordedRequest): boolean => request.url !== '/v1/sessions'

export class ScriptedEndpoint {
  readonly requests: RecordedRequest[] = []
  private readonly script: ScriptEntry[] = []
  private readonly sockets = new Set<Socket>()
  private readonly wss = new WebSocketServer({ noServer: true })
  private upgradeRefusal: { status: number; body: unknown; headers: Record<string, string> } | undefined
  private server: Server | undefined
  url = ''

  constructor(private readonly cluster: ScriptedCluster) {}

  async start(port = 0): Promise<void> {
    const server = createServer((request, response) => {
      this.handle(request, response).catch((thrown: unknown) => {
        response.destroy(thrown instanceof Error ? thrown : new Error(String(thrown)))
      })
    })
    server.on('connection', (socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
    server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) =>
      this.upgrade(request, socket, head),
    )
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    this.server = server
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  /** Closes the listener and every connection: the endpoint now refuses connections. */
  async stop(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    for (const client of this.wss.clients) client.terminate()
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  /** Starts again on the same port (a restarted node). */
  async restart(): Promise<void> {
    await this.start(Number(new URL(this.url).port))
  }

  /** Misbehaves for the next `times` matching requests (default: all but session opening). */
  once(
    behaviour: Behaviour,
    options: { times?: number; when?: (request: RecordedRequest) => boolean } = {},
  ): this {
    this.script.push({ behaviour, when: options.when ?? NOT_SESSION, remaining: options.times ?? 1 })
    return this
  }

  /** Misbehaves for every matching request until `clearScript()`. */
  always(behaviour: Behaviour, when: (request: RecordedRequest) => boolean = NOT_SESSION): this {
    return this.once(behaviour, { times: Number.POSITIVE_INFINITY, when })
  }

  clearScript(): void {
    this.script.length = 0
  }

  /** Refuses WebSocket upgrades with this HTTP answer until cleared with `undefined`. */
  refuseUpgrades(
    refusal: { status: number; body: unknown; headers?: Record<string, string> } | undefined,
  ): void {
    this.upgradeRefusal = refusal === undefined ? undefined : { headers: {}, ...refusal }
  }

  /** Open watch connections on this endpoint. */
  get watchers(): number {
    return this.wss.clients.size
  }

  /** Closes every watch on this endpoint with `code` (1006-like drops use `terminate`). */
  dropWatchers(code?: number): void {
    for (const client of this.wss.clients) {
      if (code === undefined) client.terminate()
      else client.close(code)
    }
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    let total = 0
    for await (const chunk of request as AsyncIterable<Buffer>) {
      total += chunk.length
      if (total <= BODY_BYTES_MAX) chunks.push(chunk)
    }
    const recorded: RecordedRequest = {
      method: request.method ?? '',
      url: request.url ?? '',
      headers: request.headers,
      body: Buffer.concat(chunks),
    }
    this.requests.push(recorded)
    const entry = this.script.find((candidate) => candidate.remaining > 0 && candidate.when(recorded))
    if (entry !== undefined) entry.remaining -= 1
    const behaviour = entry?.behaviour
    if (behaviour?.kind === 'hang') return
    if (behaviour?.kind === 'drop') {
      response.socket?.destroy()
      return
    }
    if (behaviour?.kind === 'respond') {
      const body = behaviour.raw ?? (behaviour.body === undefined ? '' : JSON.stringify(behaviour.body))
      response.writeHead(behaviour.status, { 'content-type': 'application/json', ...behaviour.headers })
      response.end(body)
      return
    }
    const answer = total > BODY_BYTES_MAX ? errorAnswer(413, 'body_too_large') : this.cluster.serve(recorded)
    if (behaviour?.kind === 'apply_then_drop') {
      response.socket?.destroy()
      return
    }
    response.writeHead(answer.status, answer.headers)
    response.end(answer.body)
  }

  private upgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(request.url ?? '/', 'http://placeholder')
    const refusal = this.upgradeRefusal
    if (url.pathname !== '/v1/watch' || refusal !== undefined) {
      const status = refusal?.status ?? 404
      const body = JSON.stringify(refusal?.body ?? { error: 'unknown_route', message: url.pathname })
      const extra = Object.entries(refusal?.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`)
      socket.end(
        `HTTP/1.1 ${status} Refused\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra.join('')}connection: close\r\n\r\n${body}`,
      )
      return
    }
    this.requests.push({
      method: 'UPGRADE',
      url: request.url ?? '',
      headers: request.headers,
      body: Buffer.alloc(0),
    })
    this.wss.handleUpgrade(request, socket, head, (client) => {
      const fromText = url.searchParams.get('from_revision')
      this.cluster.addWatcher(
        { socket: client, prefix: url.searchParams.get('prefix') ?? '', endpoint: this },
        fromText === null ? undefined : Number(fromText),
      )
    })
  }
}

/** Shared state of the scripted endpoints. */
export class ScriptedCluster {
  readonly endpoints: ScriptedEndpoint[] = []
  private readonly kv = new Map<string, StoredKey>()
  private readonly history: HistoryEvent[] = []
  private readonly counters = new Map<string, number>()
  private readonly locks = new Map<string, Lock>()
  private readonly sessions = new Map<string, Map<number, Answer>>()
  private readonly expiredSessions = new Map<string, 'not_applied' | 'unknown'>()
  private readonly watchers = new Set<Watcher>()
  private nextSessionNumber = 1
  private fencingTokens = 0
  revision = 0
  /** Events at or below this revision are forgotten; watches asking for them get `compacted`. */
  compactRevision = 0
  /** Log time for leases (ms since the epoch); tests move it by hand. */
  nowMs = 1_700_000_000_000
  /** How many commands were actually applied (a retried, deduplicated write counts once). */
  applied = 0

  static async start(endpointCount: number): Promise<ScriptedCluster> {
    const cluster = new ScriptedCluster()
    for (let index = 0; index < endpointCount; index++) {
      const endpoint = new ScriptedEndpoint(cluster)
      await endpoint.start()
      cluster.endpoints.push(endpoint)
    }
    return cluster
  }

  get urls(): string[] {
    return this.endpoints.map((endpoint) => endpoint.url)
  }

  async stop(): Promise<void> {
    await Promise.all(this.endpoints.map((endpoint) => endpoint.stop()))
  }

  /** Makes a session unknown to the cluster; its writes get `410 session_expired` with this outcome. */
  expireSession(id: string, outcome: 'not_applied' | 'unknown' = 'not_applied'): void {
    this.sessions.delete(id)
    this.expiredSessions.set(id, outcome)
  }

  /** Forgets history up to and including `revision`. */
  compact(revision: number): void {
    this.compactRevision = revision
  }

  get openSessions(): string[] {
    return [...this.sessions.keys()]
  }

  serve(request: RecordedRequest): Answer {
    const url = new URL(request.url, 'http://placeholder')
    const path = request.url.split('?')[0] ?? ''
    if (request.method === 'POST' && path === '/v1/sessions') {
      const id = `session-${this.nextSessionNumber++}`
      this.sessions.set(id, new Map())
      return jsonAnswer(200, { session_id: id })
    }
    const sessionId = header(request, 'x-session-id')
    const seqText = header(request, 'x-session-seq')
    if (sessionId === undefined) return this.route(request, url, path)
    const seq = Number(seqText)
    if (!Number.isSafeInteger(seq) || seq < 1)
      return errorAnswer(400, 'bad_request', { message: 'X-Session-Seq' })
    const expired = this.expiredSessions.get(sessionId)
    if (expired !== undefined) return errorAnswer(410, 'session_expired', { outcome: expired })
    const responses = this.sessions.get(sessionId)
    if (responses === undefined) return errorAnswer(410, 'session_expired', { outcome: 'not_applied' })
    const cached = responses.get(seq)
    if (cached !== undefined) return cached
    const answer = this.route(request, url, path)
    responses.set(seq, answer)
    return answer
  }

  addWatcher(watcher: Watcher, fromRevision: number | undefined): void {
    const from = fromRevision ?? this.revision + 1
    if (from <= this.compactRevision) {
      watcher.socket.send(
        JSON.stringify({ type: 'error', error: 'compacted', compact_revision: this.compactRevision }),
      )
      watcher.socket.close(4410, 'compacted')
      return
    }
    for (const event of this.history) {
      if (event.revision >= from && event.key.startsWith(watcher.prefix))
        watcher.socket.send(JSON.stringify(event))
    }
    watcher.socket.send(JSON.stringify({ type: 'synced', revision: this.revision }))
    this.watchers.add(watcher)
    watcher.socket.on('close', () => this.watchers.delete(watcher))
  }

  private record(event: HistoryEvent): void {
    this.history.push(event)
    for (const watcher of this.watchers) {
      if (event.key.startsWith(watcher.prefix)) watcher.socket.send(JSON.stringify(event))
    }
  }

  private route(request: RecordedRequest, url: URL, path: string): Answer {
    const method = request.method
    if (path.startsWith('/v1/kv/')) {
      const key = decodeName(path.slice('/v1/kv/'.length))
      if (key === undefined) return errorAnswer(400, 'invalid_key')
      if (method === 'GET') return this.kvGet(key)
      if (method === 'PUT') return this.kvPut(key, request.body, url.searchParams.get('prev_revision'))
      if (method === 'DELETE') return this.kvDelete(key, url.searchParams.get('prev_revision'))
      return errorAnswer(405, 'method_not_allowed')
    }
    if (path === '/v1/kv' && method === 'GET') return this.kvList(url)
    if (path.startsWith('/v1/counters/')) {
      const name = decodeName(path.slice('/v1/counters/'.length))
      if (name === undefined) return errorAnswer(400, 'invalid_name')
      if (method === 'GET') return jsonAnswer(200, { value: this.counters.get(name) ?? 0 })
      if (method !== 'POST') return errorAnswer(405, 'method_not_allowed')
      const body = parseJson(request.body)
      if (body === undefined || !Number.isSafeInteger(body.delta)) return errorAnswer(400, 'bad_request')
      const value = (this.counters.get(name) ?? 0) + (body.delta as number)
      if (!Number.isSafeInteger(value)) return errorAnswer(409, 'overflow')
      this.counters.set(name, value)
      this.applied += 1
      return jsonAnswer(200, { value })
    }
    const lockMatch = /^\/v1\/locks\/([^/]+)(?:\/(acquire|renew|release))?$/.exec(path)
    if (lockMatch !== null) {
      const name = decodeName(lockMatch[1] ?? '')
      if (name === undefined) return errorAnswer(400, 'invalid_name')
      return this.lock(name, lockMatch[2], method, request.body)
    }
    if (path === '/v1/cluster' && method === 'GET') return jsonAnswer(200, this.clusterStatus())
    if (path === '/v1/cluster/members' && method === 'POST') {
      const body = parseJson(request.body)
      if (body === undefined || typeof body.id !== 'string') return errorAnswer(400, 'bad_request')
      if (body.id === 'exists') return errorAnswer(409, 'member_exists')
      this.applied += 1
      return jsonAnswer(200, { id: body.id, role: body.voter === false ? 'learner' : 'voter' })
    }
    if (path.startsWith('/v1/cluster/members/') && method === 'DELETE') {
      const id = decodeName(path.slice('/v1/cluster/members/'.length))
      if (id !== 'bb') return errorAnswer(404, 'not_member')
      this.applied += 1
      return jsonAnswer(200, { removed: id })
    }
    if (path === '/v1/cluster/transfer-leader' && method === 'POST') {
      const body = parseJson(request.body)
      return jsonAnswer(200, { leader: typeof body?.to === 'string' ? body.to : 'bb' })
    }
    if (path === '/health' && method === 'GET')
      return jsonAnswer(200, { status: 'ok', id: 'aa', role: 'leader', leader: 'aa' })
    return errorAnswer(404, 'unknown_route')
  }

  private kvGet(key: string): Answer {
    const stored = this.kv.get(key)
    if (stored === undefined) return errorAnswer(404, 'not_found')
    return {
      status: 200,
      headers: {
        'content-type': 'application/octet-stream',
        'x-revision': String(stored.modRevision),
        'x-create-revision': String(stored.createRevision),
        'x-version': String(stored.version),
        'x-store-revision': String(this.revision),
      },
      body: stored.value,
    }
  }

  private kvPut(key: string, value: Buffer, prevText: string | null): Answer {
    const stored = this.kv.get(key)
    if (prevText !== null && Number(prevText) !== (stored?.modRevision ?? 0)) {
      return errorAnswer(409, 'revision_mismatch', { current: stored?.modRevision ?? 0 })
    }
    this.revision += 1
    this.applied += 1
    const next: StoredKey = {
      value,
      createRevision: stored?.createRevision ?? this.revision,
      modRevision: this.revision,
      version: (stored?.version ?? 0) + 1,
    }
    this.kv.set(key, next)
    this.record({
      type: 'put',
      key,
      value: value.toString('base64'),
      revision: this.revision,
      create_revision: next.createRevision,
      version: next.version,
    })
    return jsonAnswer(200, { revision: this.revision })
  }

  private kvDelete(key: string, prevText: string | null): Answer {
    const stored = this.kv.get(key)
    if (prevText !== null && Number(prevText) !== (stored?.modRevision ?? 0)) {
      return errorAnswer(409, 'revision_mismatch', { current: stored?.modRevision ?? 0 })
    }
    if (stored === undefined) return errorAnswer(404, 'not_found')
    this.revision += 1
    this.applied += 1
    this.kv.delete(key)
    this.record({ type: 'delete', key, revision: this.revision })
    return jsonAnswer(200, { revision: this.revision })
  }

  private kvList(url: URL): Answer {
    const prefix = url.searchParams.get('prefix') ?? ''
    const limit = Number(url.searchParams.get('limit') ?? 1000)
    const keys = [...this.kv.keys()].filter((key) => key.startsWith(prefix)).sort()
    const kvs = keys.slice(0, limit).map((key) => {
      const stored = this.kv.get(key)!
      return {
        key,
        value: stored.value.toString('base64'),
        create_revision: stored.createRevision,
        mod_revision: stored.modRevision,
        version: stored.version,
      }
    })
    return jsonAnswer(200, { revision: this.revision, kvs, more: keys.length > limit })
  }

  private lock(name: string, action: string | undefined, method: string, bodyBytes: Buffer): Answer {
    const current = this.locks.get(name)
    const live = current !== undefined && current.expiresAt > this.nowMs ? current : undefined
    if (action === undefined) {
      if (method !== 'GET') return errorAnswer(405, 'method_not_allowed')
      return jsonAnswer(200, {
        holder: live?.holder ?? null,
        fencing_token: live?.token ?? null,
        expires_at: live?.expiresAt ?? null,
        now: this.nowMs,
      })
    }
    const body = parseJson(bodyBytes)
    if (body === undefined || typeof body.owner !== 'string') return errorAnswer(400, 'bad_request')
    const owner = body.owner
    if (action === 'acquire') {
      if (live !== undefined && live.holder !== owner) {
        return errorAnswer(409, 'held', { holder: live.holder, expires_at: live.expiresAt })
      }
      const token = live?.token ?? ++this.fencingTokens
      const lock = { holder: owner, token, expiresAt: this.nowMs + Number(body.ttl_ms) }
      this.locks.set(name, lock)
      this.applied += 1
      return jsonAnswer(200, { fencing_token: token, expires_at: lock.expiresAt })
    }
    if (current === undefined || current.holder !== owner || current.token !== body.fencing_token) {
      return errorAnswer(409, 'not_holder')
    }
    if (live === undefined) return errorAnswer(409, 'lease_expired')
    this.applied += 1
    if (action === 'renew') {
      live.expiresAt = this.nowMs + Number(body.ttl_ms)
      return jsonAnswer(200, { fencing_token: live.token, expires_at: live.expiresAt })
    }
    this.locks.delete(name)
    return jsonAnswer(200, { released: true })
  }

  private clusterStatus(): unknown {
    return {
      id: 'aa',
      leader: 'aa',
      term: 3,
      commit_index: 42,
      applied_index: 41,
      members: [
        {
          id: 'aa',
          address: 'tcp://127.0.0.1:7100',
          api: this.endpoints[0]?.url ?? null,
          role: 'voter',
          state: 'self',
          phi: null,
          leader: true,
        },
        {
          id: 'bb',
          address: 'tcp://127.0.0.1:7101',
          api: null,
          role: 'learner',
          state: 'suspect',
          phi: 3.5,
          leader: false,
        },
      ],
    }
  }
}

function header(request: RecordedRequest, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

function decodeName(segment: string): string | undefined {
  try {
    const name = decodeURIComponent(segment)
    return name.length === 0 ? undefined : name
  } catch {
    return undefined
  }
}

function parseJson(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'))
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

function jsonAnswer(status: number, body: unknown): Answer {
  return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) }
}

function errorAnswer(status: number, code: string, extra: Record<string, unknown> = {}): Answer {
  return jsonAnswer(status, { error: code, message: `${code} (scripted)`, ...extra })
}
