import { DecodeError, expectString, expectUint, toError, utf8Decode } from '@socketcloud/core'
import { backoffDelayMs, parseRetryAfterMs } from './core/backoff'
import { decodeErrorBody, decodeSessionId } from './core/responses'
import type { ErrorBody } from './core/responses'
import { decideRetry } from './core/retry-policy'
import type { AttemptFailure, RequestKind } from './core/retry-policy'
import { LockHeldError, RevisionMismatchError, SocketCloudClientError } from './errors'
import type { Outcome } from './errors'
import { httpAttempt } from './http-attempt'
import type { HttpAnswer } from './http-attempt'
import type { ResolvedOptions } from './options'

/** Options every call accepts. */
export interface CallOptions {
  /** Aborts the call (and its retries); it rejects with code `aborted`. */
  readonly signal?: AbortSignal
  /** Overrides `requestTimeoutMs` for each attempt of this call. */
  readonly timeoutMs?: number
}

export interface RequestSpec extends CallOptions {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE'
  /** Path and query, already percent-encoded, starting with `/`. */
  readonly path: string
  readonly body?: Uint8Array | string
  readonly contentType?: string
  /** `session_write` is downgraded to `unsafe_write` when `safeWrites` is off. */
  readonly kind: RequestKind
}

/** A 2xx answer and the endpoint that gave it. */
export interface Reply extends HttpAnswer {
  readonly endpoint: string
}

interface SessionTicket {
  readonly session: OpenSession
  readonly seq: number
}

interface OpenSession {
  readonly id: string
  nextSeq: number
  /** Sequence numbers of writes still being sent (their answers not yet final). */
  readonly outstanding: Set<number>
}

/** Builds the typed error for a non-2xx answer from its validated error body. */
export function errorFromAnswer(
  status: number,
  body: ErrorBody | undefined,
  details: { outcome: Outcome; endpoint: string; attempts: number },
): SocketCloudClientError {
  if (body === undefined) {
    return new SocketCloudClientError('bad_response', `HTTP ${status} without a JSON error body`, {
      ...details,
      status,
    })
  }
  const message = body.message ?? `${body.error} (HTTP ${status})`
  const errorDetails = { ...details, status, body: body.fields }
  try {
    if (body.error === 'revision_mismatch') {
      return new RevisionMismatchError(
        message,
        expectUint(body.fields.current, 'error.current'),
        errorDetails,
      )
    }
    if (body.error === 'held') {
      const holder = expectString(body.fields.holder, 'error.holder', 1 << 20)
      const expiresAt = expectUint(body.fields.expires_at, 'error.expires_at')
      return new LockHeldError(message, holder, expiresAt, errorDetails)
    }
  } catch (thrown) {
    return new SocketCloudClientError(
      'bad_response',
      `malformed ${body.error} error: ${toError(thrown).message}`,
      {
        ...errorDetails,
        cause: thrown,
      },
    )
  }
  return new SocketCloudClientError(body.error, message, errorDetails)
}

function parseErrorBody(bytes: Uint8Array): ErrorBody | undefined {
  try {
    return decodeErrorBody(JSON.parse(utf8Decode(bytes)))
  } catch {
    // Not our JSON (a proxy's HTML page, a truncated body): the caller reports it as bad_response.
    return undefined
  }
}

/** Parses a JSON success body, turning any defect into a `bad_response` error. */
export function decodeJsonReply<T>(reply: Reply, decode: (body: unknown) => T, outcome: Outcome): T {
  let parsed: unknown
  try {
    parsed = JSON.parse(utf8Decode(reply.body))
  } catch (thrown) {
    throw new SocketCloudClientError('bad_response', `HTTP ${reply.status} body is not JSON`, {
      status: reply.status,
      outcome,
      endpoint: reply.endpoint,
      cause: thrown,
    })
  }
  try {
    return decode(parsed)
  } catch (thrown) {
    const why = thrown instanceof DecodeError ? thrown.message : toError(thrown).message
    throw new SocketCloudClientError('bad_response', `unexpected response: ${why}`, {
      status: reply.status,
      outcome,
      endpoint: reply.endpoint,
      cause: thrown,
    })
  }
}

/**
 * Sends requests with retries and failover: the one place that knows about endpoints, timeouts, sessions and
 * backoff. Every call starts at the endpoint that last answered; connection failures, timeouts and 5xx move
 * on to the next endpoint. Writes of kind `session_write` carry one (session, sequence) pair that is reused on
 * every retry, so the cluster applies them at most once.
 */
export class Requester {
  private preferred = 0
  private session: OpenSession | undefined
  private opening: Promise<OpenSession> | undefined
  private windowWaiters: Array<() => void> = []

  constructor(private readonly options: ResolvedOptions) {}

  /** The endpoint the next call will try first. */
  get currentEndpoint(): string {
    return this.options.endpoints[this.preferred]!
  }

  /** The id of the session writes currently use (opened lazily by the first write). */
  get sessionId(): string | undefined {
    return this.session?.id
  }

  /** Session writes currently in flight. */
  get writesInFlight(): number {
    return this.session?.outstanding.size ?? 0
  }

  /** Sends the request until a final answer; resolves with a 2xx reply or rejects with a typed error. */
  async send(spec: RequestSpec): Promise<Reply> {
    const kind: RequestKind =
      spec.kind === 'session_write' && !this.options.safeWrites ? 'unsafe_write' : spec.kind
    if (kind !== 'session_write') return this.attempts(spec, kind, undefined)
    const holder: { ticket: SessionTicket } = { ticket: await this.nextTicket(spec) }
    try {
      return await this.attempts(spec, kind, holder)
    } finally {
      this.releaseTicket(holder.ticket)
    }
  }

  private async attempts(
    spec: RequestSpec,
    kind: RequestKind,
    holder: { ticket: SessionTicket } | undefined,
  ): Promise<Reply> {
    const options = this.options
    let endpointIndex = this.preferred
    let unknownSoFar = false
    for (let attempt = 1; ; attempt++) {
      const endpoint = options.endpoints[endpointIndex]!
      const result = await httpAttempt({
        url: endpoint + spec.path,
        method: spec.method,
        headers: this.headers(spec, holder?.ticket),
        body: spec.body,
        timeoutMs: spec.timeoutMs ?? options.requestTimeoutMs,
        responseBytesMax: options.responseBytesMax,
        signal: spec.signal,
      })
      const details = { endpoint, attempts: attempt }
      let failure: AttemptFailure
      let error: (outcome: Outcome) => SocketCloudClientError
      switch (result.kind) {
        case 'aborted':
          // The aborted attempt may already have reached the server.
          throw this.abortError(kind, true, details)
        case 'too_large':
          throw new SocketCloudClientError(
            'bad_response',
            `response of ${result.bytes} bytes exceeds responseBytesMax ${options.responseBytesMax}`,
            {
              ...details,
              status: result.status,
              outcome:
                kind === 'read'
                  ? 'not_applied'
                  : result.status >= 200 && result.status < 300
                    ? 'applied'
                    : 'unknown',
            },
          )
        case 'failed':
          failure = result.failure
          error = (outcome) =>
            failure.kind === 'timeout'
              ? new SocketCloudClientError(
                  'timeout',
                  `no answer from ${endpoint} within the request timeout`,
                  {
                    ...details,
                    outcome,
                    cause: result.cause,
                  },
                )
              : new SocketCloudClientError(
                  'unreachable',
                  `${failure.kind === 'connect_failed' ? 'could not connect to' : 'connection lost to'} ${endpoint}: ${toError(result.cause).message}`,
                  { ...details, outcome, cause: result.cause },
                )
          break
        case 'answer': {
          const answer = result.answer
          if (answer.status >= 200 && answer.status < 300) {
            this.preferred = endpointIndex
            return { ...answer, endpoint }
          }
          const body = parseErrorBody(answer.body)
          failure = {
            kind: 'status',
            status: answer.status,
            code: body?.error,
            outcome: body?.outcome,
            retryAfterMs: parseRetryAfterMs(answer.headers.get('retry-after')),
          }
          error = (outcome) => errorFromAnswer(answer.status, body, { ...details, outcome })
          break
        }
      }
      const decision = decideRetry(failure, kind, unknownSoFar)
      unknownSoFar = decision.outcome === 'unknown'
      if (failure.kind === 'status' && !decision.failover) this.preferred = endpointIndex
      if (!decision.retry || attempt >= options.attemptsMax) {
        const final = error(decision.outcome)
        if (failure.kind === 'status' && failure.code === 'session_expired' && kind === 'session_write') {
          throw new SocketCloudClientError(
            'session_expired',
            decision.outcome === 'unknown'
              ? 'the client session expired and this write may already have been applied: its outcome is unknown'
              : 'the client session expired',
            { ...details, status: failure.status, outcome: decision.outcome },
          )
        }
        throw final
      }
      if (decision.renewSession && holder !== undefined) {
        const expired = holder.ticket
        this.forgetSession(expired.session)
        this.releaseTicket(expired)
        holder.ticket = await this.nextTicket(spec)
      }
      if (decision.failover) endpointIndex = (endpointIndex + 1) % options.endpoints.length
      const delayMs = backoffDelayMs(attempt - 1, options.backoff, options.random, decision.retryAfterMs)
      await options.sleep(delayMs, spec.signal)
      if (spec.signal?.aborted) throw this.abortError(kind, unknownSoFar, details)
    }
  }

  private headers(spec: RequestSpec, ticket: SessionTicket | undefined): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json, application/octet-stream' }
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`
    if (spec.contentType !== undefined) headers['content-type'] = spec.contentType
    if (ticket !== undefined) {
      headers['x-session-id'] = ticket.session.id
      headers['x-session-seq'] = String(ticket.seq)
    }
    return headers
  }

  private abortError(
    kind: RequestKind,
    maybeApplied: boolean,
    details: { endpoint: string; attempts: number },
  ): SocketCloudClientError {
    return new SocketCloudClientError('aborted', 'the call was aborted', {
      ...details,
      outcome: kind === 'read' || !maybeApplied ? 'not_applied' : 'unknown',
    })
  }

  /**
   * Takes the next sequence number of the current session, opening it first if needed. The server keeps
   * answers only for the last `sessionWindowMax` sequence numbers below the newest one it saw, so a write
   * waits while it would be that far ahead of the oldest write still in flight (whose retry would
   * otherwise meet a forgotten answer and end `unknown`).
   */
  private async nextTicket(spec: CallOptions): Promise<SessionTicket> {
    for (;;) {
      const session = this.session ?? (await abortable(this.openSession(spec), spec.signal))
      if (this.session !== undefined && this.session !== session) continue
      let oldest = session.nextSeq
      for (const seq of session.outstanding) oldest = Math.min(oldest, seq)
      if (session.nextSeq - oldest < this.options.sessionWindowMax) {
        const seq = session.nextSeq
        session.nextSeq += 1
        session.outstanding.add(seq)
        return { session, seq }
      }
      await abortable(new Promise<void>((resolve) => this.windowWaiters.push(resolve)), spec.signal)
    }
  }

  private releaseTicket(ticket: SessionTicket): void {
    if (!ticket.session.outstanding.delete(ticket.seq)) return
    const waiters = this.windowWaiters.splice(0)
    for (const wake of waiters) wake()
  }

  private forgetSession(session: OpenSession): void {
    if (this.session === session) this.session = undefined
  }

  /** Opens one session for the whole client; concurrent first writes share the same request. */
  private openSession(spec: CallOptions): Promise<OpenSession> {
    if (this.opening !== undefined) return this.opening
    // Opening twice only wastes a session, so it retries like a read. It ignores the first caller's signal
    // because other writes may be waiting on the same session.
    const opening = this.send({
      method: 'POST',
      path: '/v1/sessions',
      kind: 'read',
      timeoutMs: spec.timeoutMs,
    }).then((reply) => {
      const id = decodeJsonReply(reply, decodeSessionId, 'not_applied')
      const session: OpenSession = { id, nextSeq: 1, outstanding: new Set() }
      this.session = session
      return session
    })
    this.opening = opening
    const clear = (): void => {
      if (this.opening === opening) this.opening = undefined
    }
    opening.then(clear, clear)
    return opening
  }
}

/** Rejects with `aborted` when `signal` fires first; the underlying promise keeps running (and is shared). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  const aborted = (): SocketCloudClientError =>
    new SocketCloudClientError('aborted', 'the call was aborted before it was sent', {
      outcome: 'not_applied',
    })
  if (signal.aborted) return Promise.reject(aborted())
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(aborted())
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (thrown: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(thrown)
      },
    )
  })
}
