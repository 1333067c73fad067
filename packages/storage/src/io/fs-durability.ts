import { open, rename } from 'node:fs/promises'
import { StorageError, assert, partsOf, toError, type BytesOrParts } from '@socketcloud/core'

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

/**
 * Replaces `path` atomically and durably: writes `bytes` to `temporary`, fsyncs it, renames it over
 * `path` and fsyncs the directory, so a crash leaves either the old file or the complete new one.
 */
export async function replaceFileDurably(
  directory: string,
  temporary: string,
  path: string,
  bytes: BytesOrParts,
  operation: string,
): Promise<void> {
  try {
    const handle = await open(temporary, 'w')
    try {
      // Piece by piece: a large snapshot arrives in pieces and is never joined into one buffer.
      let position = 0
      for (const piece of partsOf(bytes)) {
        let written = 0
        while (written < piece.length) {
          const result = await handle.write(piece, written, piece.length - written, position + written)
          assert(result.bytesWritten > 0, `${operation}: a write made no progress`)
          written += result.bytesWritten
        }
        position += piece.length
      }
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temporary, path)
  } catch (thrown) {
    throw ioError(operation, path, thrown)
  }
  await syncDirectory(directory)
}
