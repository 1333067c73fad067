import { SocketCloudError } from '@socketcloud/core'
import type { ErrorContext } from '@socketcloud/core'

export type SecurityErrorCode =
  /** The key file is readable by group or others; the key may have leaked. */
  | 'KEY_FILE_PERMISSIONS'
  /** The key file exists but does not hold a well-formed identity. */
  | 'KEY_FILE_CORRUPT'
  /** Reading or writing the key file failed at the operating-system level. */
  | 'KEY_FILE_IO'
  /** A signature did not verify. */
  | 'BAD_SIGNATURE'
  /** A signed envelope was made for another purpose (domain-separation context). */
  | 'WRONG_CONTEXT'
  /** A signed envelope's nonce was already seen inside the replay window. */
  | 'REPLAYED'
  /** A signed envelope's timestamp is outside the accepted window. */
  | 'STALE'
  /** A Noise handshake message was malformed, out of order or failed to authenticate. */
  | 'HANDSHAKE_FAILED'
  /** A transport message failed authentication (tampered, reordered, replayed or truncated). */
  | 'DECRYPT_FAILED'
  /** The session's nonce space is spent; the connection must end and a new handshake run. */
  | 'NONCE_EXHAUSTED'
  /** A delegation would grant more than its parent, or was attempted by someone other than the holder. */
  | 'CAPABILITY_ESCALATION'
  /** An operation was called in a state that does not allow it (a handshake message out of turn). */
  | 'INVALID_STATE'

/** Errors raised by identities, envelopes and the Noise channel. `code` is stable; branch on it. */
export class SecurityError extends SocketCloudError {
  declare readonly code: SecurityErrorCode
  constructor(
    code: SecurityErrorCode,
    message: string,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, context, options)
  }
}
