import { utf8Decode, utf8Encode } from '@socketcloud/core'
import { ServiceError, badRequest } from '../services/service-error'
import type { ClientSession, Consistency } from '../services/node-services'

/** Keys, counter names and lock names: 1–512 bytes of UTF-8 without control characters. */
export const NAME_BYTES_MAX = 512
// eslint-disable-next-line no-control-regex -- the point is to find control characters
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Percent-decodes one raw path segment and checks it as a key or name; 400 with `error` otherwise. */
export function decodeName(raw: string, error: 'invalid_key' | 'invalid_name', what: string): string {
  let name: string
  try {
    // decodeURIComponent refuses malformed escapes and escapes that are not valid UTF-8.
    name = decodeURIComponent(raw)
  } catch {
    throw badRequest(`the ${what} is not valid percent-encoded UTF-8`, error)
  }
  checkName(name, error, what, 1, NAME_BYTES_MAX)
  return name
}

export function checkName(
  name: string,
  error: 'invalid_key' | 'invalid_name' | 'bad_request',
  what: string,
  bytesMin: number,
  bytesMax: number,
): void {
  const bytes = utf8Encode(name).length
  if (bytes < bytesMin || bytes > bytesMax) {
    throw badRequest(`the ${what} must be ${bytesMin}–${bytesMax} bytes of UTF-8 (got ${bytes})`, error)
  }
  if (CONTROL_CHARACTERS.test(name)) throw badRequest(`the ${what} contains a control character`, error)
  if (LONE_SURROGATE.test(name)) throw badRequest(`the ${what} is not valid UTF-8 (lone surrogate)`, error)
}

/** Query parameters; each may appear at most once. */
export class QueryParams {
  private readonly params: URLSearchParams

  constructor(raw: string | undefined) {
    this.params = new URLSearchParams(raw ?? '')
  }

  get(name: string): string | undefined {
    const values = this.params.getAll(name)
    if (values.length > 1) throw badRequest(`query parameter ${name} is given more than once`)
    return values[0]
  }

  /** A non-negative safe integer within [min, max], or undefined when absent. */
  integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const text = this.get(name)
    if (text === undefined) return undefined
    if (!/^\d{1,16}$/.test(text)) throw badRequest(`query parameter ${name} must be an integer`)
    const value = Number(text)
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw badRequest(`query parameter ${name} must be between ${min} and ${max}`)
    }
    return value
  }

  consistency(): Consistency {
    const value = this.get('consistency')
    if (value === undefined || value === 'linearizable') return 'linearizable'
    if (value === 'stale') return 'stale'
    throw badRequest('query parameter consistency must be linearizable or stale')
  }
}

/** The JSON object of a request body; 400 naming the problem otherwise. */
export function parseJsonObject(body: Uint8Array): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(utf8Decode(body))
  } catch {
    throw badRequest('the body is not valid UTF-8 JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('the body must be a JSON object')
  }
  return value as Record<string, unknown>
}

export function safeInteger(body: Record<string, unknown>, field: string, min: number, max: number): number {
  const value = body[field]
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badRequest(`field ${field} must be an integer between ${min} and ${max}`)
  }
  return value
}

export function boundedString(body: Record<string, unknown>, field: string, bytesMax: number): string {
  const value = body[field]
  if (typeof value !== 'string') throw badRequest(`field ${field} must be a string`)
  checkName(value, 'bad_request', `field ${field}`, 1, bytesMax)
  return value
}

/** X-Session-Id and X-Session-Seq, both or neither. */
export function parseSession(id: string, sequence: string): ClientSession | undefined {
  if (id === '' && sequence === '') return undefined
  if (id === '' || sequence === '') throw badRequest('X-Session-Id and X-Session-Seq go together')
  if (id.length > 64 || !/^[\x21-\x7e]+$/.test(id)) throw badRequest('X-Session-Id is not a session id')
  if (!/^\d{1,16}$/.test(sequence)) throw badRequest('X-Session-Seq must be an integer ≥ 1')
  const value = Number(sequence)
  if (!Number.isSafeInteger(value) || value < 1) throw badRequest('X-Session-Seq must be an integer ≥ 1')
  return { id, sequence: value }
}

export function methodNotAllowed(allow: readonly string[]): ServiceError {
  return new ServiceError({
    status: 405,
    error: 'method_not_allowed',
    message: `allowed: ${allow.join(', ')}`,
    extra: {},
  })
}
