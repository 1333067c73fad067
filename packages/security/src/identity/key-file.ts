import { constants } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { bytesEqual, bytesToHex, hexToBytes, toError } from '@socketcloud/core'
import { SecurityError } from '../errors'
import { defaultCryptoProvider } from '../providers/index'
import type { CryptoProvider } from '../providers/index'
import { Ed25519Identity } from './identity'

const HEADER = 'socketcloud-identity v1'
/** A key file is four short lines; anything much larger is not one of ours. */
const KEY_FILE_BYTES_MAX = 4096
const OWNER_ONLY_MODE = 0o600
const GROUP_OR_OTHER_BITS = 0o077

export interface KeyFileOptions {
  readonly provider?: CryptoProvider
}

/** The text written to a key file: a header, the algorithm, the seed and (as a check) the public key. */
export function formatKeyFile(identity: Ed25519Identity): string {
  return [
    HEADER,
    'algorithm ed25519',
    `seed ${bytesToHex(identity.exportSeed())}`,
    `public ${bytesToHex(identity.publicKey)}`,
    '',
  ].join('\n')
}

/** Parses key-file text; throws SecurityError('KEY_FILE_CORRUPT') naming what is wrong. */
export function parseKeyFile(
  text: string,
  path: string,
  provider: CryptoProvider = defaultCryptoProvider(),
): Ed25519Identity {
  const corrupt = (why: string): never => {
    throw new SecurityError('KEY_FILE_CORRUPT', `identity key file ${path} is corrupt: ${why}`, { path })
  }
  const lines = text.split('\n')
  if (lines[0] !== HEADER) corrupt(`first line must be "${HEADER}"`)
  if (lines[1] !== 'algorithm ed25519') corrupt('second line must be "algorithm ed25519"')
  const seed = /^seed ([0-9a-f]{64})$/.exec(lines[2] ?? '')?.[1]
  const publicKey = /^public ([0-9a-f]{64})$/.exec(lines[3] ?? '')?.[1]
  if (seed === undefined) return corrupt('third line must be "seed <64 hex digits>"')
  if (publicKey === undefined) return corrupt('fourth line must be "public <64 hex digits>"')
  if (lines.slice(4).some((line) => line !== '')) corrupt('unexpected content after the public key')
  const identity = Ed25519Identity.fromSeed(hexToBytes(seed)!, provider)
  if (!bytesEqual(identity.publicKey, hexToBytes(publicKey)!)) {
    corrupt('the public key does not match the seed')
  }
  return identity
}

function ioError(path: string, action: string, error: unknown): SecurityError {
  const cause = toError(error)
  return new SecurityError(
    'KEY_FILE_IO',
    `cannot ${action} identity key file ${path}: ${cause.message}`,
    { path },
    { cause },
  )
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined
}

async function readExisting(path: string, provider: CryptoProvider): Promise<Ed25519Identity> {
  let handle: FileHandle
  try {
    handle = await open(path, constants.O_RDONLY)
  } catch (error) {
    throw ioError(path, 'open', error)
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) {
      throw new SecurityError('KEY_FILE_CORRUPT', `identity key file ${path} is not a regular file`, { path })
    }
    // Windows has no POSIX permission bits; there the file system ACLs are the operator's job.
    if (process.platform !== 'win32' && (stat.mode & GROUP_OR_OTHER_BITS) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(3, '0')
      throw new SecurityError(
        'KEY_FILE_PERMISSIONS',
        `identity key file ${path} has permissions ${mode}; it must be readable by its owner only ` +
          `(run: chmod 600 ${path})`,
        { path, mode },
      )
    }
    if (stat.size > KEY_FILE_BYTES_MAX) {
      throw new SecurityError(
        'KEY_FILE_CORRUPT',
        `identity key file ${path} is ${stat.size} bytes, too large`,
        {
          path,
          bytes: stat.size,
        },
      )
    }
    const text = await handle.readFile({ encoding: 'utf8' }).catch((error: unknown) => {
      throw ioError(path, 'read', error)
    })
    return parseKeyFile(text, path, provider)
  } finally {
    await handle.close()
  }
}

/** Loads the identity at `path`; fails (typed) when it is missing, too widely readable or corrupt. */
export async function loadIdentity(path: string, options: KeyFileOptions = {}): Promise<Ed25519Identity> {
  return readExisting(path, options.provider ?? defaultCryptoProvider())
}

/**
 * Loads the identity at `path`, or creates one on first start: a fresh seed written with mode 0600
 * through an exclusive create (two processes racing both end up with the same identity), fsynced
 * together with its directory so a crash never leaves a half-written key behind a valid name.
 */
export async function loadOrCreateIdentity(
  path: string,
  options: KeyFileOptions = {},
): Promise<Ed25519Identity> {
  const provider = options.provider ?? defaultCryptoProvider()
  try {
    return await readExisting(path, provider)
  } catch (error) {
    if (!(
      error instanceof SecurityError &&
      error.code === 'KEY_FILE_IO' &&
      errorCode(error.cause) === 'ENOENT'
    )) {
      throw error
    }
  }
  const identity = Ed25519Identity.generate(provider)
  const directory = dirname(path)
  await mkdir(directory, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw ioError(path, 'create the directory of', error)
  })
  let handle: FileHandle
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, OWNER_ONLY_MODE)
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return readExisting(path, provider)
    throw ioError(path, 'create', error)
  }
  try {
    // The umask cannot widen 0600, but an explicit chmod documents the intent and covers odd umasks.
    await handle.chmod(OWNER_ONLY_MODE)
    await handle.writeFile(formatKeyFile(identity), { encoding: 'utf8' })
    await handle.sync()
  } catch (error) {
    throw ioError(path, 'write', error)
  } finally {
    await handle.close()
  }
  await syncDirectory(directory, path)
  return identity
}

async function syncDirectory(directory: string, path: string): Promise<void> {
  if (process.platform === 'win32') return
  const handle = await open(directory, constants.O_RDONLY).catch((error: unknown) => {
    throw ioError(path, 'open the directory of', error)
  })
  try {
    await handle.sync()
  } catch (error) {
    throw ioError(path, 'fsync the directory of', error)
  } finally {
    await handle.close()
  }
}
