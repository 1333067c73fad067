import { TransportError, toError } from '@socketcloud/core'

const REFUSED_CODES = new Set(['ECONNREFUSED', 'ENOENT'])
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'])

/** Maps a Node socket error to a typed TransportError carrying the address and the system code. */
export function ioError(thrown: unknown, address: string): TransportError {
  const error = toError(thrown)
  const code = (error as { code?: unknown }).code
  const systemCode = typeof code === 'string' ? code : undefined
  if (systemCode && REFUSED_CODES.has(systemCode)) {
    return new TransportError(
      'CONNECTION_REFUSED',
      `connection to ${address} refused`,
      { address, systemCode },
      {
        cause: error,
      },
    )
  }
  if (systemCode && UNREACHABLE_CODES.has(systemCode)) {
    return new TransportError(
      'PEER_UNREACHABLE',
      `${address} is unreachable (${systemCode})`,
      { address, systemCode },
      {
        cause: error,
      },
    )
  }
  return new TransportError(
    'IO_ERROR',
    `I/O error on ${address}: ${error.message}`,
    { address, systemCode },
    {
      cause: error,
    },
  )
}

/** The error a dial reports when it was aborted (dial timeout, caller's signal, transport closing). */
export function linkClosedError(address: string, reason: unknown): TransportError {
  if (reason instanceof TransportError) return reason
  return new TransportError(
    'PEER_UNREACHABLE',
    `dial to ${address} was aborted`,
    { address },
    {
      cause: toError(reason ?? 'aborted'),
    },
  )
}
