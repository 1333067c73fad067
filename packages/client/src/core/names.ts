import { SocketCloudClientError } from '../errors'

/** Keys, counter names and lock names are 1–512 bytes of UTF-8 (API.md). */
export const NAME_BYTES_MAX = 512

const encoder = new TextEncoder()
// U+0000–U+001F and U+007F are refused by the server; checking here saves a round trip.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * Percent-encodes a key (or counter/lock name) as ONE path segment: `/` becomes `%2F`, non-ASCII becomes its
 * UTF-8 bytes, so the server's percent-decoding gives back the exact key. The names `.` and `..` cannot be
 * carried: URL parsers (WHATWG, which `fetch` uses) remove dot segments even when percent-encoded, so they
 * are refused here rather than silently addressing another route.
 */
export function encodeNameSegment(name: string, what: 'key' | 'name'): string {
  const code = what === 'key' ? 'invalid_key' : 'invalid_name'
  const refuse = (why: string): never => {
    throw new SocketCloudClientError(code, `${what} ${JSON.stringify(name)} ${why}`, {
      outcome: 'not_applied',
    })
  }
  if (typeof name !== 'string') return refuse('must be a string')
  if (name.length === 0) return refuse('must not be empty')
  if (LONE_SURROGATE.test(name)) return refuse('is not valid UTF-8 (lone surrogate)')
  if (CONTROL_CHARACTERS.test(name)) return refuse('contains a control character')
  const bytes = encoder.encode(name).length
  if (bytes > NAME_BYTES_MAX) return refuse(`is ${bytes} bytes, more than ${NAME_BYTES_MAX}`)
  if (name === '.' || name === '..') return refuse('is a dot segment, which URLs cannot carry')
  return encodeURIComponent(name)
}

/** Builds `?a=1&b=2` from the defined entries, percent-encoding values (never `+` for spaces). */
export function queryString(entries: Record<string, string | number | undefined>): string {
  const parts: string[] = []
  for (const [name, value] of Object.entries(entries)) {
    if (value === undefined) continue
    parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`)
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`
}
