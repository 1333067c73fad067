import fc from 'fast-check'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { RevisionMismatchError, SocketCloudClientError } from './errors'
import { ScriptedCluster } from './testing/scripted-cluster'
import type { ScriptedEndpoint } from './testing/scripted-cluster'
import { recordingClient, rejectionOf } from './testing/helpers'

// Goal: the key-value calls put on the wire exactly what API.md specifies (paths, percent-encoding, query,
// headers, bodies) and turn every answer into typed values. Method: a scripted node on 127.0.0.1 records
// each request and serves the contract from memory.
let cluster: ScriptedCluster
let node: ScriptedEndpoint

beforeAll(async () => {
  cluster = await ScriptedCluster.start(1)
  node = cluster.endpoints[0]!
})
afterAll(async () => {
  await cluster.stop()
})
beforeEach(() => {
  node.requests.length = 0
  node.clearScript()
})

const decoder = new TextDecoder()
const lastRequest = () => node.requests.at(-1)!

describe('kv', () => {
  it('puts raw bytes under a percent-encoded key and reads them back with every revision', async () => {
    const { client } = recordingClient(cluster.urls)
    const key = 'users/é 日本/🙂?#%'
    const { revision } = await client.kv.put(key, 'hello')
    const put = lastRequest()
    expect(put.method).toBe('PUT')
    expect(put.url).toBe(`/v1/kv/${encodeURIComponent(key)}`)
    expect(put.url).toContain('users%2F%C3%A9%20%E6%97%A5%E6%9C%AC%2F%F0%9F%99%82%3F%23%25')
    expect(put.headers['content-type']).toBe('application/octet-stream')
    expect(put.body.toString('utf8')).toBe('hello')

    const entry = await client.kv.get(key)
    expect(lastRequest().url).toBe(`/v1/kv/${encodeURIComponent(key)}`)
    expect(entry).not.toBeNull()
    expect(decoder.decode(entry!.value)).toBe('hello')
    expect(entry).toMatchObject({ revision, createRevision: revision, version: 1, storeRevision: revision })
  })

  it('sends binary values unchanged', async () => {
    const { client } = recordingClient(cluster.urls)
    const bytes = new Uint8Array([0, 255, 1, 128, 10, 13])
    await client.kv.put('binary', bytes)
    expect([...lastRequest().body]).toEqual([...bytes])
    expect([...(await client.kv.get('binary'))!.value]).toEqual([...bytes])
  })

  it('returns null for a missing key on get and delete', async () => {
    const { client } = recordingClient(cluster.urls)
    expect(await client.kv.get('absent')).toBeNull()
    expect(await client.kv.delete('absent')).toBeNull()
  })

  it('asks for stale reads only when told to', async () => {
    const { client } = recordingClient(cluster.urls)
    await client.kv.put('c', 'v')
    await client.kv.get('c', { consistency: 'stale' })
    expect(lastRequest().url).toBe('/v1/kv/c?consistency=stale')
    await client.kv.get('c', { consistency: 'linearizable' })
    expect(lastRequest().url).toBe('/v1/kv/c')
  })

  it('does compare-and-set with prev_revision and reports the current revision on mismatch', async () => {
    const { client } = recordingClient(cluster.urls)
    const created = await client.kv.put('cas', 'one', { prevRevision: 0 })
    expect(lastRequest().url).toBe('/v1/kv/cas?prev_revision=0')
    const updated = await client.kv.put('cas', 'two', { prevRevision: created.revision })
    const error = await rejectionOf(() => client.kv.put('cas', 'three', { prevRevision: created.revision }))
    expect(error).toBeInstanceOf(RevisionMismatchError)
    expect(error).toMatchObject({
      code: 'revision_mismatch',
      status: 409,
      current: updated.revision,
      outcome: 'not_applied',
    })
    const deleteError = await rejectionOf(() => client.kv.delete('cas', { prevRevision: 1 }))
    expect(deleteError).toMatchObject({ code: 'revision_mismatch', current: updated.revision })
    const deleted = await client.kv.delete('cas', { prevRevision: updated.revision })
    expect(lastRequest().url).toBe(`/v1/kv/cas?prev_revision=${updated.revision}`)
    expect(deleted!.revision).toBe(updated.revision + 1)
    expect(await client.kv.get('cas')).toBeNull()
  })

  it('lists a prefix with decoded values and revisions', async () => {
    const { client } = recordingClient(cluster.urls)
    await client.kv.put('list/a', 'A')
    await client.kv.put('list/b c', new Uint8Array([0, 1, 2]))
    await client.kv.put('other', 'x')
    const result = await client.kv.list({ prefix: 'list/', limit: 1 })
    expect(lastRequest().url).toBe('/v1/kv?prefix=list%2F&limit=1')
    expect(result.more).toBe(true)
    expect(result.kvs.map((entry) => entry.key)).toEqual(['list/a'])
    const all = await client.kv.list({ prefix: 'list/', consistency: 'stale' })
    expect(lastRequest().url).toBe('/v1/kv?prefix=list%2F&consistency=stale')
    expect(all.kvs.map((entry) => entry.key)).toEqual(['list/a', 'list/b c'])
    expect([...all.kvs[1]!.value]).toEqual([0, 1, 2])
    expect(all.kvs[1]!.revision).toBe(all.kvs[1]!.createRevision)
    expect(all.revision).toBe(cluster.revision)
  })

  it('refuses bad arguments before sending anything', async () => {
    const { client } = recordingClient(cluster.urls)
    const sent = node.requests.length
    for (const call of [
      () => client.kv.put('', 'x'),
      () => client.kv.get('.'),
      () => client.kv.put('ok', 'x', { prevRevision: -1 }),
      () => client.kv.list({ limit: 0 }),
      () => client.kv.list({ limit: 10_001 }),
    ]) {
      expect(await rejectionOf(call)).toBeInstanceOf(SocketCloudClientError)
    }
    expect(node.requests.length).toBe(sent)
  })

  it('sends the bearer token on every call', async () => {
    const { client } = recordingClient(cluster.urls, { token: 'cap-token-1' })
    await client.kv.put('auth', 'x')
    await client.kv.get('auth')
    expect(node.requests.every((request) => request.headers.authorization === 'Bearer cap-token-1')).toBe(
      true,
    )
  })
})

describe('kv keys (property)', () => {
  it('any valid key round-trips through the URL path and the prefix query unchanged', async () => {
    const { client } = recordingClient(cluster.urls)
    // Printable code points (controls are invalid keys), with slashes, dots, percent signs and astral
    // characters drawn often; `.` and `..` alone are the documented exception.
    const keyCharacter = fc.oneof(
      fc.constantFrom('/', '.', '%', '?', '#', '+', ' ', '&', '=', '🙂', 'é'),
      fc
        .integer({ min: 0x20, max: 0x10ffff })
        .filter((code) => code !== 0x7f && (code < 0xd800 || code > 0xdfff))
        .map((code) => String.fromCodePoint(code)),
    )
    const key = fc
      .array(keyCharacter, { minLength: 1, maxLength: 40 })
      .map((characters) => characters.join(''))
      .filter((candidate) => candidate !== '.' && candidate !== '..')
    await fc.assert(
      fc.asyncProperty(key, fc.uint8Array({ maxLength: 64 }), async (name, value) => {
        await client.kv.put(name, value)
        const read = await client.kv.get(name)
        expect([...read!.value]).toEqual([...value])
        const listed = await client.kv.list({ prefix: name, limit: 10_000 })
        expect(listed.kvs.some((entry) => entry.key === name)).toBe(true)
        expect(listed.kvs.every((entry) => entry.key.startsWith(name))).toBe(true)
      }),
      { numRuns: 100 },
    )
  })
})
