import { SocketCloudClientError } from './errors'

/** Serialises a request body; the fields are checked by the caller, this only guards against non-JSON. */
export function jsonBody(value: Record<string, unknown>): string {
  return JSON.stringify(value)
}

export function invalidArgument(message: string): SocketCloudClientError {
  return new SocketCloudClientError('invalid_argument', message, { outcome: 'not_applied' })
}

export function checkSafeInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

export function checkText(value: unknown, name: string, bytesMax: number): string {
  if (typeof value !== 'string' || value.length === 0)
    throw invalidArgument(`${name} must be a non-empty string`)
  const bytes = new TextEncoder().encode(value).length
  if (bytes > bytesMax) throw invalidArgument(`${name} is ${bytes} bytes, more than ${bytesMax}`)
  return value
}
