import { DecodeError, expectRecord, expectString, expectUint } from '@socketcloud/core'
import { expectBase64 } from './responses'

/** A change under the watched prefix, or the marker that history replay has caught up. */
export type WatchEvent =
  | {
      readonly type: 'put'
      readonly key: string
      readonly value: Uint8Array
      /** The store revision of this put (the key's new mod revision). */
      readonly revision: number
      readonly createRevision: number
      readonly version: number
    }
  | { readonly type: 'delete'; readonly key: string; readonly revision: number }
  /**
   * Every event up to `revision` has been delivered; later events are live. Sent once per connection, so a
   * reconnect produces another one.
   */
  | { readonly type: 'synced'; readonly revision: number }

/** What one server frame means to the watch. */
export type WatchFrame =
  | { readonly kind: 'event'; readonly event: WatchEvent }
  | {
      readonly kind: 'error'
      readonly error: string
      readonly compactRevision: number | undefined
      readonly message: string | undefined
    }
  /** A frame type this client does not know (a newer server); skipped so old clients keep working. */
  | { readonly kind: 'unknown'; readonly type: string }

const KEY_CHARS_MAX = 1 << 20

/** Decodes one JSON text frame of the watch stream (API.md "Watch"); throws DecodeError when malformed. */
export function decodeWatchFrame(text: string): WatchFrame {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (thrown) {
    throw new DecodeError('MALFORMED', 'watch frame is not JSON', {}, { cause: thrown })
  }
  const frame = expectRecord(parsed, 'watch frame')
  const type = expectString(frame.type, 'watch frame.type', 64)
  switch (type) {
    case 'put':
      return {
        kind: 'event',
        event: {
          type: 'put',
          key: expectString(frame.key, 'put.key', KEY_CHARS_MAX),
          value: expectBase64(frame.value, 'put.value'),
          revision: expectUint(frame.revision, 'put.revision'),
          createRevision: expectUint(frame.create_revision, 'put.create_revision'),
          version: expectUint(frame.version, 'put.version'),
        },
      }
    case 'delete':
      return {
        kind: 'event',
        event: {
          type: 'delete',
          key: expectString(frame.key, 'delete.key', KEY_CHARS_MAX),
          revision: expectUint(frame.revision, 'delete.revision'),
        },
      }
    case 'synced':
      return {
        kind: 'event',
        event: { type: 'synced', revision: expectUint(frame.revision, 'synced.revision') },
      }
    case 'error':
      return {
        kind: 'error',
        error: expectString(frame.error, 'error.error', 256),
        compactRevision:
          frame.compact_revision === undefined
            ? undefined
            : expectUint(frame.compact_revision, 'error.compact_revision'),
        message:
          frame.message === undefined
            ? undefined
            : expectString(frame.message, 'error.message', KEY_CHARS_MAX),
      }
    default:
      return { kind: 'unknown', type }
  }
}
