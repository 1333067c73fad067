import type { AttemptFailure } from './core/retry-policy'

/** One answer from one endpoint, body fully read (within `responseBytesMax`). */
export interface HttpAnswer {
  readonly status: number
  readonly headers: Headers
  readonly body: Uint8Array
}

export type AttemptResult =
  | { readonly kind: 'answer'; readonly answer: HttpAnswer }
  | {
      readonly kind: 'failed'
      readonly failure: Exclude<AttemptFailure, { kind: 'status' }>
      readonly cause: unknown
    }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'too_large'; readonly status: number; readonly bytes: number }

export interface HttpAttemptInit {
  readonly url: string
  readonly method: string
  readonly headers: Record<string, string>
  readonly body: Uint8Array | string | undefined
  readonly timeoutMs: number
  readonly responseBytesMax: number
  readonly signal: AbortSignal | undefined
}

// Errors that mean the TCP connection was never established, so the request cannot have reached a server.
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
])

function errorCodes(thrown: unknown, depth = 0): string[] {
  if (depth > 4 || thrown === null || typeof thrown !== 'object') return []
  const codes: string[] = []
  const code = (thrown as { code?: unknown }).code
  if (typeof code === 'string') codes.push(code)
  const nested = (thrown as { errors?: unknown }).errors
  if (Array.isArray(nested)) for (const inner of nested) codes.push(...errorCodes(inner, depth + 1))
  codes.push(...errorCodes((thrown as { cause?: unknown }).cause, depth + 1))
  return codes
}

/** True when every error code found in `thrown` (and its causes) is a connect failure. */
export function neverConnected(thrown: unknown): boolean {
  const codes = errorCodes(thrown)
  return codes.length > 0 && codes.every((code) => CONNECT_ERROR_CODES.has(code))
}

class BodyTooLarge extends Error {
  constructor(readonly bytes: number) {
    super('response body too large')
  }
}

async function readBody(response: Response, bytesMax: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (Number.isFinite(declared) && declared > bytesMax) {
    await response.body?.cancel().catch(() => undefined)
    throw new BodyTooLarge(declared)
  }
  if (response.body === null) return new Uint8Array(0)
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > bytesMax) {
      await reader.cancel().catch(() => undefined)
      throw new BodyTooLarge(total)
    }
    chunks.push(value)
  }
  if (chunks.length === 1) return chunks[0]!
  const body = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return body
}

/**
 * Sends one request and reads the whole answer, classifying every way it can fail. The timeout covers the
 * headers and the body; a user abort wins over everything else. Never throws.
 */
export async function httpAttempt(init: HttpAttemptInit): Promise<AttemptResult> {
  if (init.signal?.aborted) return { kind: 'aborted' }
  const controller = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort()
  }, init.timeoutMs)
  const onUserAbort = (): void => controller.abort()
  init.signal?.addEventListener('abort', onUserAbort, { once: true })
  let status = 0
  try {
    const response = await fetch(init.url, {
      method: init.method,
      headers: init.headers,
      body: init.body,
      signal: controller.signal,
      redirect: 'error',
    })
    status = response.status
    const body = await readBody(response, init.responseBytesMax)
    return { kind: 'answer', answer: { status: response.status, headers: response.headers, body } }
  } catch (thrown) {
    if (thrown instanceof BodyTooLarge) return { kind: 'too_large', status, bytes: thrown.bytes }
    if (init.signal?.aborted) return { kind: 'aborted' }
    if (timedOut) return { kind: 'failed', failure: { kind: 'timeout' }, cause: thrown }
    const failure = neverConnected(thrown)
      ? ({ kind: 'connect_failed' } as const)
      : ({ kind: 'connection_lost' } as const)
    return { kind: 'failed', failure, cause: thrown }
  } finally {
    clearTimeout(timer)
    init.signal?.removeEventListener('abort', onUserAbort)
  }
}
