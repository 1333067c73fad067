import uWS from 'uWebSockets.js'
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket } from 'uWebSockets.js'
import { ConfigError, noopLogger, systemClock, toError, type Clock, type Logger } from '@socketcloud/core'
import type { Registry } from 'prom-client'
import { NotLeaderError, type NodeServices } from '../services/node-services'
import { ServiceError, fromRuntimeError, stopping } from '../services/service-error'
import { ApiAuthorizer, type ApiAuthOptions } from './auth'
import { HttpMetrics } from './http-metrics'
import { resolveApiLimits, type ApiLimits, type ResolvedApiLimits } from './limits'
import {
  json,
  matchRoute,
  parsePrefix,
  type ApiRequest,
  type ApiResponse,
  type MatchedRoute,
  type RouteContext,
} from './routes'
import { QueryParams } from './validate'
import { WatchConnection, type WatchSocketData } from './watch-connection'

export interface ApiServerOptions {
  readonly services: NodeServices
  /** The node's prom-client registry; the API registers its HTTP and watch metrics in it. */
  readonly registry: Registry
  readonly logger?: Logger
  /** When given, every route but /health needs a capability token chained to `rootPublicKey`. */
  readonly auth?: ApiAuthOptions
  readonly limits?: ApiLimits
  /** Wall time for token expiry checks. @default systemClock */
  readonly clock?: Clock
}

/** An oversized body up to this many times the limit is read and dropped before the 413 is sent. */
const BODY_DISCARD_FACTOR = 8

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

interface ResponseState {
  aborted: boolean
  done: boolean
  counted: boolean
}

const DRAIN_POLL_MS = 10

/**
 * The node's HTTP/WebSocket API (API.md) on uWebSockets.js. Every request is validated at the
 * boundary — route, method, path and query parameters, capability token, body size (refused from
 * Content-Length before reading, and again while streaming), JSON shape — and refused with the
 * contract's JSON error; nothing a client sends can stop the server from serving the others.
 *
 * uWS rules kept here: every async response registers `onAborted` first and is never touched after
 * it fired; writes are corked; request headers are read before the first await (the request object
 * dies with the callback).
 */
export class ApiServer {
  private readonly services: NodeServices
  private readonly logger: Logger
  private readonly limits: ResolvedApiLimits
  private readonly metrics: HttpMetrics
  private readonly authorizer: ApiAuthorizer | null
  private readonly context: RouteContext
  private readonly clock: Clock
  private readonly app: TemplatedApp
  private listenSocket: us_listen_socket | null = null
  private boundPort = 0
  private inflight = 0
  private connections = 0
  private stopping = false
  private closed: Promise<void> | null = null
  private readonly watchers = new Set<WatchConnection>()
  private readonly watchersPerClient = new Map<string, number>()

  constructor(options: ApiServerOptions) {
    this.services = options.services
    this.logger = (options.logger ?? noopLogger).child({ component: 'api' })
    this.limits = resolveApiLimits(options.limits)
    this.clock = options.clock ?? systemClock
    this.metrics = new HttpMetrics(options.registry)
    this.authorizer = options.auth ? new ApiAuthorizer(options.auth, this.clock) : null
    if (options.auth && options.auth.rootPublicKey.length !== 32) {
      throw new ConfigError('auth.rootPublicKey must be a 32-byte ed25519 public key')
    }
    this.context = { services: this.services, registry: options.registry, limits: this.limits }
    this.app = uWS.App()
    this.app.filter((response, count) => this.onConnection(response, Number(count)))
    this.app.ws<WatchSocketData>('/v1/watch', {
      maxPayloadLength: 4096,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      // uWS drops a send beyond maxBackpressure; we stop writing at watchBackpressureBytesMax, so the
      // socket never holds more than that plus one frame (a 1 MiB value is about 1.4 MiB as base64).
      maxBackpressure: this.limits.watchBackpressureBytesMax + 4 * 1024 * 1024,
      closeOnBackpressureLimit: 0,
      compression: uWS.DISABLED,
      upgrade: (response, request, context) => this.onUpgrade(response, request, context),
      open: (socket) => this.onWatchOpen(socket),
      drain: (socket) => socket.getUserData().connection?.drain(),
      close: (socket) => this.onWatchClose(socket.getUserData()),
    })
    this.app.any('/*', (response, request) => this.onRequest(response, request))
  }

  /** The bound port (0 before `listen`). */
  get port(): number {
    return this.boundPort
  }

  /** Requests received and not yet answered (or aborted). */
  get inflightRequests(): number {
    return this.inflight
  }

  get openWatchers(): number {
    return this.watchers.size
  }

  /** Listens on host:port (port 0: one the OS picks) and resolves with the bound port. */
  async listen(host: string, port: number): Promise<number> {
    if (this.listenSocket) throw new ConfigError('the API server is already listening')
    const chosen = port === 0 ? await freePort(host) : port
    return new Promise((resolve, reject) => {
      this.app.listen(host, chosen, (socket) => {
        if (!socket) {
          reject(new ConfigError(`cannot listen on ${host}:${chosen} (port in use?)`, { host, port: chosen }))
          return
        }
        this.listenSocket = socket
        this.boundPort = uWS.us_socket_local_port(socket as unknown as us_socket)
        this.logger.info({ host, port: this.boundPort }, 'API listening')
        resolve(this.boundPort)
      })
    })
  }

  /**
   * Stops accepting connections, answers new requests on open connections with 503 `stopping`, waits
   * up to `drainMs` for in-flight requests, closes every watch (1001) and then every connection.
   */
  close(options: { readonly drainMs?: number } = {}): Promise<void> {
    this.closed ??= this.shutdown(options.drainMs ?? 5_000)
    return this.closed
  }

  private async shutdown(drainMs: number): Promise<void> {
    this.stopping = true
    if (this.listenSocket) {
      uWS.us_listen_socket_close(this.listenSocket)
      this.listenSocket = null
    }
    const deadlineMs = this.clock.now() + drainMs
    while (this.inflight > 0 && this.clock.now() < deadlineMs) {
      await new Promise<void>((resolve) => this.clock.setTimer(DRAIN_POLL_MS, resolve))
    }
    if (this.inflight > 0)
      this.logger.warn({ inflight: this.inflight }, 'closing with requests still in flight')
    for (const watcher of [...this.watchers]) watcher.shutdown()
    // Let the close frames go out before the sockets are cut.
    await new Promise<void>((resolve) => this.clock.setTimer(DRAIN_POLL_MS, resolve))
    this.app.close()
  }

  // ---------------------------------------------------------------- connections

  private onConnection(response: HttpResponse, count: number): void {
    this.connections += count
    this.metrics.connections.set(this.connections)
    if (count > 0 && this.connections > this.limits.connectionsMax) {
      this.metrics.refused.inc({ reason: 'connections-max' })
      response.close()
    }
  }

  // ---------------------------------------------------------------- HTTP

  private onRequest(response: HttpResponse, raw: HttpRequest): void {
    const startedMs = performance.now()
    const state: ResponseState = { aborted: false, done: false, counted: true }
    this.inflight++
    let label = 'unmatched'
    const method = raw.getMethod().toUpperCase()
    const finish = (status: number): void => {
      if (!state.counted) return
      state.counted = false
      this.inflight--
      const labels = { route: label, method, status: String(status) }
      this.metrics.requests.inc(labels)
      this.metrics.duration.observe(labels, (performance.now() - startedMs) / 1000)
    }
    response.onAborted(() => {
      state.aborted = true
      finish(499)
    })
    const rawQuery = raw.getQuery()
    const request: ApiRequest = {
      method,
      rawPath: raw.getUrl(),
      rawQuery,
      query: new QueryParams(rawQuery),
      authorization: raw.getHeader('authorization'),
      contentType: raw.getHeader('content-type'),
      sessionId: raw.getHeader('x-session-id'),
      sessionSeq: raw.getHeader('x-session-seq'),
      forwardedBy: raw.getHeader('x-forwarded-by'),
      body: new Uint8Array(0),
    }
    const contentLength = raw.getHeader('content-length')
    const bodyPending =
      (contentLength !== '' && contentLength !== '0') || raw.getHeader('transfer-encoding') !== ''
    let bodyRead = false
    const send = (answer: ApiResponse): void => {
      if (state.aborted || state.done) return
      state.done = true
      finish(answer.status)
      // An unread body would be parsed as the next request: close the connection instead.
      const closeConnection = bodyPending && !bodyRead
      response.cork(() => {
        response.writeStatus(`${answer.status} ${STATUS_TEXT[answer.status] ?? 'Unknown'}`)
        response.writeHeader('Content-Type', answer.contentType)
        for (const [name, value] of Object.entries(answer.headers ?? {})) response.writeHeader(name, value)
        response.end(answer.body, closeConnection)
      })
    }
    const fail = (thrown: unknown): void => send(this.errorResponse(thrown, request))
    try {
      if (this.stopping) {
        throw stopping()
      }
      if (this.inflight > this.limits.inflightRequestsMax) {
        this.metrics.refused.inc({ reason: 'inflight-max' })
        throw new ServiceError({
          status: 429,
          error: 'overloaded',
          outcome: 'not_applied',
          retryAfterSeconds: 1,
          message: `more than inflightRequestsMax (${this.limits.inflightRequestsMax}) requests in flight`,
        })
      }
      const route = matchRoute(this.context, method, request.rawPath, request.query)
      label = route.label
      this.authorizer?.check(request.authorization, route.requirement)
      const run = (): void => {
        route.handle(request).then(send, (thrown: unknown) => {
          this.forwardOrFail(thrown, route, request).then(send, fail)
        })
      }
      if (!route.hasBody) {
        run()
        return
      }
      const declared = contentLength === '' ? 0 : Number(contentLength)
      if (declared > this.limits.requestBodyBytesMax) {
        // Answered before the body is read, as a client sending `Expect: 100-continue` expects.
        this.metrics.refused.inc({ reason: 'body-too-large' })
        throw this.bodyTooLarge()
      }
      this.readBody(
        response,
        state,
        (body) => {
          bodyRead = true
          request.body = body
          run()
        },
        () => {
          // The connection is closed after this answer: the client sent more than it may.
          this.metrics.refused.inc({ reason: 'body-too-large' })
          fail(this.bodyTooLarge())
        },
      )
    } catch (thrown) {
      fail(thrown)
    }
  }

  private bodyTooLarge(): ServiceError {
    return new ServiceError({
      status: 413,
      error: 'body_too_large',
      message: `the body exceeds requestBodyBytesMax (${this.limits.requestBodyBytesMax} bytes)`,
    })
  }

  /**
   * Streams the body with a cap. Past the cap the rest is read and dropped and `tooLarge` fires at its
   * end, so the client reads the 413 rather than a reset of a connection it is still writing to (a
   * lingering close); past `BODY_DISCARD_FACTOR` times the cap it fires at once.
   */
  private readBody(
    response: HttpResponse,
    state: ResponseState,
    done: (body: Uint8Array) => void,
    tooLarge: () => void,
  ): void {
    const chunks: Uint8Array[] = []
    const discardBytesMax = this.limits.requestBodyBytesMax * BODY_DISCARD_FACTOR
    let size = 0
    let refused = false
    response.onData((chunk, isLast) => {
      if (state.aborted || state.done) return
      size += chunk.byteLength
      if (refused || size > this.limits.requestBodyBytesMax) {
        if (!refused) {
          refused = true
          chunks.length = 0
        }
        if (size > discardBytesMax || isLast) tooLarge()
        return
      }
      // uWS neuters the chunk when this callback returns: copy it.
      chunks.push(new Uint8Array(chunk.slice(0)))
      if (!isLast) return
      const body = new Uint8Array(size)
      let offset = 0
      for (const part of chunks) {
        body.set(part, offset)
        offset += part.length
      }
      done(body)
    })
  }

  /** A follower forwards leader-only admin calls to the leader's API, once. */
  private async forwardOrFail(
    thrown: unknown,
    route: MatchedRoute,
    request: ApiRequest,
  ): Promise<ApiResponse> {
    if (
      !(thrown instanceof NotLeaderError) ||
      !route.forwardable ||
      request.forwardedBy !== '' ||
      !thrown.leaderApi
    ) {
      throw thrown
    }
    const target = new URL(
      request.rawPath + (request.rawQuery ? `?${request.rawQuery}` : ''),
      thrown.leaderApi,
    )
    const headers: Record<string, string> = { 'x-forwarded-by': this.services.localId.hex }
    if (request.authorization) headers['authorization'] = request.authorization
    if (request.contentType) headers['content-type'] = request.contentType
    let answer: Response
    try {
      answer = await fetch(target, {
        method: request.method,
        headers,
        ...(route.hasBody ? { body: request.body } : {}),
        signal: AbortSignal.timeout(this.limits.forwardTimeoutMs),
      })
    } catch (error) {
      throw new ServiceError({
        status: 504,
        error: 'timeout',
        outcome: 'unknown',
        message: `forwarding to the leader's API failed: ${toError(error).message}`,
      })
    }
    const body = new Uint8Array(await answer.arrayBuffer())
    const retryAfter = answer.headers.get('retry-after')
    return {
      status: answer.status,
      body,
      contentType: answer.headers.get('content-type') ?? 'application/json',
      ...(retryAfter ? { headers: { 'Retry-After': retryAfter } } : {}),
    }
  }

  private errorResponse(thrown: unknown, request: ApiRequest): ApiResponse {
    const error = thrown instanceof ServiceError ? thrown : fromRuntimeError(thrown)
    if (error.status >= 500 && error.error === 'internal') {
      this.logger.error(
        { path: request.rawPath, error: toError(error.cause ?? error).message },
        'request failed',
      )
    }
    const headers: Record<string, string> = {}
    if (error.retryAfterSeconds !== undefined) headers['Retry-After'] = String(error.retryAfterSeconds)
    const allow = error.extra['allow']
    if (error.status === 405 && typeof allow === 'string') headers['Allow'] = allow
    const body = error.body()
    if (error.status === 405) delete body['allow']
    return json(error.status, body, headers)
  }

  // ---------------------------------------------------------------- watch

  private onUpgrade(response: HttpResponse, raw: HttpRequest, context: uWS.us_socket_context_t): void {
    const startedMs = performance.now()
    const key = raw.getHeader('sec-websocket-key')
    const protocol = raw.getHeader('sec-websocket-protocol')
    const extensions = raw.getHeader('sec-websocket-extensions')
    const authorization = raw.getHeader('authorization')
    const query = new QueryParams(raw.getQuery())
    const client = Buffer.from(response.getRemoteAddressAsText()).toString()
    const record = (status: number): void => {
      const labels = { route: '/v1/watch', method: 'GET', status: String(status) }
      this.metrics.requests.inc(labels)
      this.metrics.duration.observe(labels, (performance.now() - startedMs) / 1000)
    }
    try {
      if (this.stopping) {
        throw stopping()
      }
      const prefix = parsePrefix(query.get('prefix'), this.limits.prefixBytesMax)
      const fromRevision = query.integer('from_revision', 0)
      this.authorizer?.check(authorization, {
        kind: 'ability',
        ability: 'kv/read',
        resourcePattern: `kv/${prefix}*`,
      })
      if (this.watchers.size >= this.limits.watchersMax) {
        this.metrics.refused.inc({ reason: 'watchers-max' })
        throw new ServiceError({
          status: 429,
          error: 'overloaded',
          outcome: 'not_applied',
          retryAfterSeconds: 1,
          message: `watchersMax (${this.limits.watchersMax}) watches are open`,
        })
      }
      if ((this.watchersPerClient.get(client) ?? 0) >= this.limits.watchersPerClientMax) {
        this.metrics.refused.inc({ reason: 'watchers-per-client-max' })
        throw new ServiceError({
          status: 429,
          error: 'overloaded',
          outcome: 'not_applied',
          retryAfterSeconds: 1,
          message: `watchersPerClientMax (${this.limits.watchersPerClientMax}) watches are open from ${client}`,
        })
      }
      record(101)
      response.upgrade<WatchSocketData>({ prefix, fromRevision, client }, key, protocol, extensions, context)
    } catch (thrown) {
      const answer = this.errorResponse(thrown, {
        method: 'GET',
        rawPath: '/v1/watch',
        rawQuery: undefined,
        query,
        authorization,
        contentType: '',
        sessionId: '',
        sessionSeq: '',
        forwardedBy: '',
        body: new Uint8Array(0),
      })
      record(answer.status)
      response.cork(() => {
        response.writeStatus(`${answer.status} ${STATUS_TEXT[answer.status] ?? 'Unknown'}`)
        response.writeHeader('Content-Type', answer.contentType)
        for (const [name, value] of Object.entries(answer.headers ?? {})) response.writeHeader(name, value)
        response.end(answer.body, true)
      })
    }
  }

  private onWatchOpen(socket: uWS.WebSocket<WatchSocketData>): void {
    const data = socket.getUserData()
    const connection = new WatchConnection(
      socket,
      {
        queueEventsMax: this.limits.watchQueueEventsMax,
        backpressureBytesMax: this.limits.watchBackpressureBytesMax,
      },
      this.metrics,
    )
    data.connection = connection
    this.watchers.add(connection)
    this.watchersPerClient.set(data.client, (this.watchersPerClient.get(data.client) ?? 0) + 1)
    this.metrics.watchers.set(this.watchers.size)
    const start = this.services.watch(data.prefix, data.fromRevision, connection.sink)
    if (start.ok) connection.attach(start.cancel)
    else connection.sink.compacted(start.compactRevision)
  }

  private onWatchClose(data: WatchSocketData): void {
    // uWS's filter reports a connection's end only for HTTP sockets, never for upgraded ones.
    this.connections--
    this.metrics.connections.set(this.connections)
    const connection = data.connection
    if (!connection) return
    connection.closedByPeer()
    this.watchers.delete(connection)
    const remaining = (this.watchersPerClient.get(data.client) ?? 1) - 1
    if (remaining <= 0) this.watchersPerClient.delete(data.client)
    else this.watchersPerClient.set(data.client, remaining)
    this.metrics.watchers.set(this.watchers.size)
  }
}

/**
 * uSockets sets SO_REUSEPORT only for explicit ports, so a port-0 listener would leave its closed
 * connections in TIME_WAIT blocking a restart on the same port; ask the OS for a free port first and
 * bind it explicitly (as the transport's WebSocket driver does).
 */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    uWS.App().listen(host, 0, (probe) => {
      if (!probe) {
        reject(new ConfigError(`cannot listen on ${host}`, { host }))
        return
      }
      const port = uWS.us_socket_local_port(probe as unknown as us_socket)
      uWS.us_listen_socket_close(probe)
      resolve(port)
    })
  })
}
