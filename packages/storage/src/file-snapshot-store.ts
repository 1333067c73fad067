import { mkdir, readFile, readdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger, Snapshot, SnapshotStore } from '@socketcloud/core'
import { DecodeError, LimitExceededError, StorageError, checkLimit, noopLogger } from '@socketcloud/core'
import { decodeSnapshot, encodeSnapshot } from './core/snapshot-format'
import { ioError, replaceFileDurably, syncDirectory } from './io/fs-durability'

export interface FileSnapshotStoreInit {
  /** Snapshots kept on disk; older ones are deleted after a newer one is durable. @default 2 */
  readonly retainCount?: number
  /** Largest snapshot file accepted by `save` and `load`. @default 1 GiB */
  readonly snapshotBytesMax?: number
  readonly logger?: Logger
}

export const FILE_SNAPSHOT_DEFAULTS = Object.freeze({ retainCount: 2, snapshotBytesMax: 1024 * 1024 * 1024 })

const SNAPSHOT_NAME = /^snapshot-(\d{16})\.snap$/
const TEMPORARY_SUFFIX = '.tmp'

function snapshotName(sequence: number): string {
  return `snapshot-${sequence.toString().padStart(16, '0')}.snap`
}

/**
 * SnapshotStore on files. `save` writes `snapshot-<sequence>.snap.tmp`, fsyncs it, renames it into
 * place and fsyncs the directory, so a crash leaves either the old set of snapshots or the new one,
 * never a half-written snapshot under a real name. Each file carries a CRC32C over its content;
 * `load` returns the newest file that passes it, skipping (and logging) damaged ones. After a save,
 * all but the newest `retainCount` snapshots are deleted.
 */
export class FileSnapshotStore implements SnapshotStore {
  readonly directory: string
  private readonly retainCount: number
  private readonly snapshotBytesMax: number
  private readonly logger: Logger
  private sequences: number[]
  private serial: Promise<unknown> = Promise.resolve()
  private closed = false

  private constructor(directory: string, init: Required<FileSnapshotStoreInit>, sequences: number[]) {
    this.directory = directory
    this.retainCount = init.retainCount
    this.snapshotBytesMax = init.snapshotBytesMax
    this.logger = init.logger
    this.sequences = sequences
  }

  /** Opens (creating if needed) the directory and removes temporary files left by an interrupted save. */
  static async open(directory: string, init: FileSnapshotStoreInit = {}): Promise<FileSnapshotStore> {
    const options: Required<FileSnapshotStoreInit> = {
      retainCount: checkLimit('retainCount', init.retainCount ?? FILE_SNAPSHOT_DEFAULTS.retainCount, 1, 1000),
      snapshotBytesMax: checkLimit(
        'snapshotBytesMax',
        init.snapshotBytesMax ?? FILE_SNAPSHOT_DEFAULTS.snapshotBytesMax,
        64,
        2 ** 32,
      ),
      logger: init.logger ?? noopLogger,
    }
    try {
      await mkdir(directory, { recursive: true })
    } catch (thrown) {
      throw ioError('mkdir', directory, thrown)
    }
    let names: string[]
    try {
      names = await readdir(directory)
    } catch (thrown) {
      throw ioError('readdir', directory, thrown)
    }
    const sequences: number[] = []
    let removed = 0
    for (const name of names) {
      if (name.endsWith(TEMPORARY_SUFFIX)) {
        const path = join(directory, name)
        try {
          await unlink(path)
        } catch (thrown) {
          throw ioError('unlink', path, thrown)
        }
        removed++
        continue
      }
      const match = SNAPSHOT_NAME.exec(name)
      if (match !== null) sequences.push(Number(match[1]))
    }
    if (removed > 0) await syncDirectory(directory)
    sequences.sort((a, b) => a - b)
    return new FileSnapshotStore(directory, options, sequences)
  }

  save(snapshot: Snapshot): Promise<void> {
    return this.serialize(async () => {
      const bytes = encodeSnapshot(snapshot)
      if (bytes.length > this.snapshotBytesMax) {
        throw new LimitExceededError('snapshotBytesMax', bytes.length, this.snapshotBytesMax, {
          index: snapshot.meta.index,
        })
      }
      const sequence = (this.sequences[this.sequences.length - 1] ?? 0) + 1
      const path = join(this.directory, snapshotName(sequence))
      const temporary = path + TEMPORARY_SUFFIX
      await replaceFileDurably(this.directory, temporary, path, bytes, 'save snapshot')
      this.sequences.push(sequence)
      await this.prune()
    })
  }

  load(): Promise<Snapshot | null> {
    return this.serialize(async () => {
      for (let position = this.sequences.length - 1; position >= 0; position--) {
        const path = join(this.directory, snapshotName(this.sequences[position]!))
        let bytes: Uint8Array
        try {
          bytes = await readFile(path)
        } catch (thrown) {
          throw ioError('read snapshot', path, thrown)
        }
        try {
          if (bytes.length > this.snapshotBytesMax) {
            throw new DecodeError('OVERSIZED', `snapshot file of ${bytes.length} bytes`, {
              bytes: bytes.length,
            })
          }
          return decodeSnapshot(bytes)
        } catch (thrown) {
          if (!(thrown instanceof DecodeError)) throw thrown
          this.logger.warn({ path, reason: thrown.message }, 'skipping damaged snapshot')
        }
      }
      return null
    })
  }

  close(): Promise<void> {
    return this.serialize(async () => {
      this.closed = true
    })
  }

  /** Runs store operations one at a time so saves and prunes never interleave. */
  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed) {
      return Promise.reject(
        new StorageError('CLOSED', 'snapshot store is closed', { directory: this.directory }),
      )
    }
    const result = this.serial.then(() => {
      if (this.closed)
        throw new StorageError('CLOSED', 'snapshot store is closed', { directory: this.directory })
      return operation()
    })
    this.serial = result.catch((error: unknown) => error)
    return result
  }

  private async prune(): Promise<void> {
    const doomed = this.sequences.slice(0, Math.max(0, this.sequences.length - this.retainCount))
    if (doomed.length === 0) return
    for (const sequence of doomed) {
      const path = join(this.directory, snapshotName(sequence))
      try {
        await unlink(path)
      } catch (thrown) {
        throw ioError('unlink', path, thrown)
      }
    }
    this.sequences = this.sequences.slice(doomed.length)
    await syncDirectory(this.directory)
  }
}
