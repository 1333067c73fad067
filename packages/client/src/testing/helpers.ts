import { SeededRandom } from '@socketcloud/core'
import { SocketCloudClient } from '../client'
import type { SocketCloudClientInit } from '../options'

/** Runs `action` and returns what it threw; fails the test when it did not throw. */
export async function rejectionOf(action: () => unknown): Promise<unknown> {
  try {
    await action()
  } catch (thrown) {
    return thrown
  }
  throw new Error('expected the call to throw, it returned')
}

/**
 * A client whose backoff waits are recorded instead of slept, so retry tests run at full speed and can
 * assert the delays the client chose.
 */
export function recordingClient(
  endpoints: readonly string[],
  init: Partial<SocketCloudClientInit> = {},
): { client: SocketCloudClient; sleeps: number[] } {
  const sleeps: number[] = []
  const client = new SocketCloudClient({
    endpoints,
    requestTimeoutMs: 2000,
    random: new SeededRandom(1),
    sleep: async (delayMs) => {
      sleeps.push(delayMs)
    },
    ...init,
  })
  return { client, sleeps }
}

/** A URL on 127.0.0.1 where nothing listens (a port the OS gave out and that was closed again). */
export async function deadEndpoint(): Promise<string> {
  const { createServer } = await import('node:net')
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}
