/**
 * Goal: the WebSocket client's own data frames and the control frames `ws` writes on the same socket
 * (pongs answering the server's keepalive pings, the close frame) never corrupt each other: the
 * uWebSockets.js server parses the stream strictly, so a broken frame would close the connection.
 * Method: bursts of mixed-size messages (all three RFC 6455 length encodings) from the `ws` client,
 * with a keepalive exchange forced between every two bursts by waiting on the server's keepalive
 * counter, then a graceful close right behind a last burst; real sockets on 127.0.0.1.
 */
import { afterEach, expect, it, vi } from 'vitest'
import { MemoryMetrics } from '@socketcloud/core'
import { counterMessage, createNode, nextEvent, readCounter, sendAll, type Node } from './helpers'

let open: Node[] = []
afterEach(async () => {
  await Promise.all(open.map((node) => node.transport.close()))
  open = []
})

/** Sizes cycling through the 7-bit, 16-bit and 64-bit WebSocket length encodings. */
function sizeOf(index: number): number {
  const sizes = [4, 125, 126, 4096, 65_536, 70_001]
  return sizes[index % sizes.length]!
}

it('interleaves client data frames with ws control frames without corrupting the stream', async () => {
  const serverMetrics = new MemoryMetrics()
  const liveness = { keepaliveIntervalMs: 10, idleTimeoutMs: 5_000 }
  const server = createNode({ protocols: ['ws'], ...liveness }, undefined, undefined, serverMetrics)
  const client = createNode({ protocols: ['ws'], ...liveness })
  open.push(server, client)
  const address = await server.transport.listen('ws://127.0.0.1:0')
  const peer = await client.transport.dial(address)
  const keepalives = () => serverMetrics.total('socketcloud_transport_keepalives_in_total')

  const bursts = 12
  const perBurst = 60
  let sent = 0
  for (let burst = 0; burst < bursts; burst++) {
    await sendAll(
      client.transport,
      peer,
      Array.from({ length: perBurst }, (_, index) => counterMessage(sent + index, sizeOf(sent + index))),
    )
    sent += perBurst
    // A keepalive reply from the client (a pong `ws` writes) lands between this burst and the next.
    const seen = keepalives()
    await vi.waitFor(() => expect(keepalives()).toBeGreaterThan(seen), { timeout: 5_000, interval: 5 })
  }
  await sendAll(
    client.transport,
    peer,
    Array.from({ length: perBurst }, (_, index) => counterMessage(sent + index, sizeOf(sent + index))),
  )
  sent += perBurst
  const serverSeesClose = nextEvent(server.transport, 'peer:disconnect')
  await client.transport.close()
  const { error } = await serverSeesClose
  expect(error).toBeUndefined()
  expect(server.errors).toEqual([])
  expect(server.inbox.map((message) => readCounter(message.bytes))).toEqual([...Array(sent).keys()])
  server.inbox.forEach((message, index) => {
    expect(message.bytes.length).toBe(sizeOf(index))
    // Everything after the counter was sent as zeros: a masking slip would show as stray bits.
    expect(message.bytes.subarray(4).every((byte) => byte === 0)).toBe(true)
  })
})
