import { SocketCloudError } from '@socketcloud/core'
import type { ErrorContext } from '@socketcloud/core'

export type DhtErrorCode = 'NO_SIGNER' | 'RECORD_REFUSED' | 'STOPPED' | 'BOOTSTRAP_FAILED'

/** Operating errors of the DHT API (bad input from the network is counted, never thrown). */
export class DhtError extends SocketCloudError {
  declare readonly code: DhtErrorCode
  constructor(code: DhtErrorCode, message: string, context: ErrorContext = {}) {
    super(code, message, context)
  }
}
