import { open } from 'node:fs/promises'
import { StorageError, toError } from '@socketcloud/core'

/** Wraps a failed filesystem call into StorageError(IO_ERROR) naming the operation and path. */
export function ioError(operation: string, path: string, thrown: unknown): StorageError {
  const cause = toError(thrown)
  const code = (thrown as { code?: unknown } | null)?.code
  return new StorageError(
    'IO_ERROR',
    `${operation} ${path} failed: ${cause.message}`,
    { operation, path, ...(typeof code === 'string' ? { errno: code } : {}) },
    { cause },
  )
}

/**
 * Makes a directory's entries (files created, renamed or unlinked in it) durable. Without this, a
 * crash can forget a new segment or a renamed snapshot even though its contents were fsynced.
 */
export async function syncDirectory(directory: string): Promise<void> {
  let handle
  try {
    handle = await open(directory, 'r')
    await handle.sync()
  } catch (thrown) {
    throw ioError('fsync directory', directory, thrown)
  } finally {
    await handle?.close()
  }
}
