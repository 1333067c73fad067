// Goal: a cluster started with a root public key serves only callers whose capability token covers the
// call: no token or a forged or expired one is 401, a token for another resource is 403, /health is
// open, and tokens made with `socketcloud token keygen|issue|delegate` work end to end.
// Method: a one-node cluster process with SOCKETCLOUD_ROOT_PUBLIC_KEY; tokens from the CLI (and one
// expired token issued in-process with @socketcloud/security); calls through the client and fetch.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { SocketCloudClient, isClientError } from '@socketcloud/client'
import { NodeId } from '@socketcloud/core'
import { defaultCryptoProvider, formatCapability, issueCapability, loadIdentity } from '@socketcloud/security'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcessCluster, SOURCE_NODE_COMMAND } from './process-cluster'

const run = promisify(execFile)

async function cli(...args: string[]): Promise<string> {
  const [executable, ...prefix] = SOURCE_NODE_COMMAND
  const { stdout } = await run(executable, [...prefix, ...args], { timeout: 60_000 })
  return stdout.trim()
}

let keys: string
let cluster: ProcessCluster
let rootKey: string
let client: { id: string; key: string }

beforeAll(async () => {
  keys = mkdtempSync(join(tmpdir(), 'socketcloud-keys-'))
  rootKey = join(keys, 'root.key')
  const root = JSON.parse(await cli('token', 'keygen', '--out', rootKey)) as { publicKey: string; id: string }
  const holder = JSON.parse(await cli('token', 'keygen', '--out', join(keys, 'client.key'))) as { id: string }
  client = { id: holder.id, key: join(keys, 'client.key') }
  cluster = await ProcessCluster.start(1, { SOCKETCLOUD_ROOT_PUBLIC_KEY: root.publicKey })
}, 180_000)

afterAll(async () => {
  await cluster?.stop()
  rmSync(keys, { recursive: true, force: true })
})

const codeOf = (error: unknown) => (isClientError(error) ? error.code : error)

describe('access control with capability tokens', () => {
  it('serves a token’s resource and abilities and refuses everything else', async () => {
    const api = cluster.nodes[0]!.apiUrl
    const token = await cli(
      'token',
      'issue',
      '--key',
      rootKey,
      '--audience',
      client.id,
      '--resource',
      'kv/app/*',
      '--ability',
      'kv/read',
      '--ability',
      'kv/write',
      '--ttl',
      '1h',
    )
    const allowed = new SocketCloudClient({ endpoints: [api], token })
    await allowed.kv.put('app/config', 'on')
    expect(Buffer.from((await allowed.kv.get('app/config'))!.value).toString()).toBe('on')
    expect(codeOf(await allowed.kv.put('other/config', 'x').catch((error: unknown) => error))).toBe(
      'forbidden',
    )
    expect(codeOf(await allowed.counter.add('c', 1).catch((error: unknown) => error))).toBe('forbidden')

    const anonymous = new SocketCloudClient({ endpoints: [api] })
    expect(codeOf(await anonymous.kv.get('app/config').catch((error: unknown) => error))).toBe('unauthorized')
    const forged = `${token.slice(0, -6)}${token.slice(-6).split('').reverse().join('')}`
    const tampered = new SocketCloudClient({ endpoints: [api], token: forged })
    expect(codeOf(await tampered.kv.get('app/config').catch((error: unknown) => error))).toBe('unauthorized')
    expect((await fetch(`${api}/health`)).status).toBe(200)

    // A narrower token delegated by the holder works for what it covers only.
    const readOnly = await cli(
      'token',
      'delegate',
      '--key',
      client.key,
      '--parent',
      token,
      '--audience',
      client.id,
      '--resource',
      'kv/app/*',
      '--ability',
      'kv/read',
      '--ttl',
      '10m',
    )
    const reader = new SocketCloudClient({ endpoints: [api], token: readOnly })
    expect((await reader.kv.get('app/config'))?.revision).toBeGreaterThan(0)
    expect(codeOf(await reader.kv.put('app/config', 'off').catch((error: unknown) => error))).toBe(
      'forbidden',
    )
  }, 240_000)

  it('refuses an expired token', async () => {
    const root = await loadIdentity(rootKey)
    const now = Date.now()
    const expired = formatCapability(
      issueCapability(
        root,
        {
          audience: NodeId.fromHex(client.id),
          resource: 'kv/*',
          abilities: ['kv/read'],
          caveats: {},
          notBeforeMs: now - 120_000,
          expiresMs: now - 60_000,
          quorum: undefined,
        },
        { provider: defaultCryptoProvider() },
      ),
    )
    const response = await fetch(`${cluster.nodes[0]!.apiUrl}/v1/kv/app/config`, {
      headers: { authorization: `Bearer ${expired}` },
    })
    expect(response.status).toBe(401)
    expect(((await response.json()) as { message: string }).message).toMatch(/expired/i)
  }, 30_000)
})
