import { SocketCloudError } from '@socketcloud/core'
import type { ErrorContext } from '@socketcloud/core'

/**
 * A command that was understood but refused (a failed precondition, a limit, a lost lease). The
 * framework turns it into an error result; it never escapes `apply`, because the command is already
 * committed and every replica must record the same outcome.
 */
export class CommandError extends SocketCloudError {
  constructor(code: string, message: string, context: ErrorContext = {}) {
    super(code, message, context)
  }
}

/** Codes the framework itself puts into error results. Machines add their own (e.g. `NOT_HOLDER`). */
export const FrameworkErrorCode = Object.freeze({
  /** Bytes that are not a command of this machine: undecodable, wrong shape or invalid arguments. */
  invalidCommand: 'INVALID_COMMAND',
  /** A well-formed command naming an operation this machine does not have. */
  unknownCommand: 'UNKNOWN_COMMAND',
  invalidQuery: 'INVALID_QUERY',
  unknownQuery: 'UNKNOWN_QUERY',
  /** The machine's own code threw something other than a CommandError: a bug, reported, not thrown. */
  internal: 'INTERNAL',
})
