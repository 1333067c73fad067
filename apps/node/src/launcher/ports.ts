import { once } from 'node:events'
import { createServer } from 'node:net'

/**
 * Ports the OS hands out now on 127.0.0.1 (bound, read, released), for starting node processes
 * whose addresses must be known before they start; the short race with other processes is accepted.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer()
      server.listen(0, '127.0.0.1')
      await once(server, 'listening')
      return server
    }),
  )
  const ports = servers.map((server) => (server.address() as { port: number }).port)
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  return ports
}
