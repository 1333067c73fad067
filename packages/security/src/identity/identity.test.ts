// Goal: a node's identity is created once with owner-only permissions, loads back identical, and a
// key file that is too widely readable or damaged stops the node with a message that says why.
// Method: real files in a fresh temporary directory per test.
import { mkdtemp, readFile, rm, stat, chmod, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NodeId } from '@socketcloud/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createNativeCryptoProvider, createPortableCryptoProvider } from '../providers/index'
import { Ed25519Identity, Ed25519Verifier, nodeIdFromPublicKey } from './identity'
import { formatKeyFile, loadIdentity, loadOrCreateIdentity } from './key-file'

let directory: string
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'socketcloud-identity-'))
})
afterEach(async () => {
  await rm(directory, { recursive: true, force: true })
})

describe('identity', () => {
  it('derives NodeId as SHA-256 of the public key and signs/verifies as core Signer/Verifier', () => {
    const provider = createNativeCryptoProvider()
    const identity = Ed25519Identity.fromSeed(new Uint8Array(32).fill(9), provider)
    expect(identity.nodeId.equals(NodeId.fromBytes(provider.hash('SHA256', identity.publicKey)))).toBe(true)
    expect(nodeIdFromPublicKey(identity.publicKey).equals(identity.nodeId)).toBe(true)
    const message = new TextEncoder().encode('hello')
    const signature = identity.sign(message)
    for (const verifierProvider of [provider, createPortableCryptoProvider()]) {
      const verifier = new Ed25519Verifier(verifierProvider)
      expect(verifier.verify('ed25519', identity.publicKey, message, signature)).toBe(true)
      expect(verifier.verify('ed448', identity.publicKey, message, signature)).toBe(false)
      expect(verifier.verify('ed25519', identity.publicKey, new Uint8Array(1), signature)).toBe(false)
      expect(verifier.verify('ed25519', new Uint8Array(3), message, signature)).toBe(false)
    }
  })
})

describe('key file', () => {
  it('is created on first start with mode 0600 and loads back the same identity', async () => {
    const path = join(directory, 'nested', 'identity.key')
    const created = await loadOrCreateIdentity(path)
    if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600)
    const loaded = await loadOrCreateIdentity(path)
    expect(loaded.nodeId.equals(created.nodeId)).toBe(true)
    expect((await loadIdentity(path)).publicKey).toEqual(created.publicKey)
    expect(await readFile(path, 'utf8')).toBe(formatKeyFile(created))
  })

  it('two processes racing to create it end up with one identity', async () => {
    const path = join(directory, 'identity.key')
    const [a, b] = await Promise.all([loadOrCreateIdentity(path), loadOrCreateIdentity(path)])
    expect(a.nodeId.equals(b.nodeId)).toBe(true)
  })

  it.skipIf(process.platform === 'win32')('refuses a file readable by group or others', async () => {
    const path = join(directory, 'identity.key')
    await loadOrCreateIdentity(path)
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      await chmod(path, mode)
      await expect(loadOrCreateIdentity(path)).rejects.toMatchObject({
        code: 'KEY_FILE_PERMISSIONS',
        message: expect.stringContaining('chmod 600'),
      })
    }
  })

  it('refuses a corrupt file with the reason, and never overwrites it', async () => {
    const path = join(directory, 'identity.key')
    const good = formatKeyFile(Ed25519Identity.generate())
    const corruptions = [
      '',
      'garbage',
      good.replace('socketcloud-identity v1', 'socketcloud-identity v9'),
      good.replace(/seed ([0-9a-f]{2})/, 'seed zz'),
      good.replace(/public ([0-9a-f])/, (_match, digit: string) => `public ${digit === '0' ? '1' : '0'}`),
      good.slice(0, 60),
      `${good}extra\n`,
    ]
    for (const text of corruptions) {
      await writeFile(path, text, { mode: 0o600 })
      await expect(loadOrCreateIdentity(path)).rejects.toMatchObject({ code: 'KEY_FILE_CORRUPT' })
      expect(await readFile(path, 'utf8')).toBe(text)
    }
  })

  it('fails with KEY_FILE_IO when loading a missing file explicitly', async () => {
    await expect(loadIdentity(join(directory, 'missing.key'))).rejects.toMatchObject({ code: 'KEY_FILE_IO' })
  })
})
