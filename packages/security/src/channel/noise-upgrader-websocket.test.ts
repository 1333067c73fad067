// Goal: the Noise upgrader works over WebSocket as well as TCP: WebSocket messages are frames, so the
// same HandshakeChannel contract holds. Method: a `ws` server and client on 127.0.0.1 (OS-chosen
// port), each side wrapped as a HandshakeChannel; handshake, then messages both ways, including one
// larger than a Noise message.
import type { AddressInfo } from 'node:net'
import { TransportError } from '@socketcloud/core'
import type { ConnectionDirection, HandshakeChannel } from '@socketcloud/core'
import { describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { Ed25519Identity } from '../identity/identity'
import { createNativeCryptoProvider } from '../providers/index'
import { NoiseUpgrader } from './noise-upgrader'

function channelOf(socket: WebSocket, direction: ConnectionDirection): HandshakeChannel {
  const frames: Uint8Array[] = []
  const waiters: { resolve: (frame: Uint8Array) => void; reject: (error: Error) => void }[] = []
  socket.binaryType = 'nodebuffer'
  socket.on('message', (data: Buffer) => {
    const frame = new Uint8Array(data)
    const waiter = waiters.shift()
    if (waiter) waiter.resolve(frame)
    else frames.push(frame)
  })
  socket.on('close', () => {
    for (const waiter of waiters.splice(0))
      waiter.reject(new TransportError('CONNECTION_CLOSED', 'socket closed'))
  })
  return {
    direction,
    remoteAddress: 'ws',
    send: (frame) => socket.send(frame),
    receive: () => {
      const frame = frames.shift()
      return frame
        ? Promise.resolve(frame)
        : new Promise((resolve, reject) => waiters.push({ resolve, reject }))
    },
  }
}

describe('over WebSocket (ws)', () => {
  it('handshakes and carries messages both ways', async () => {
    const provider = createNativeCryptoProvider()
    const dialer = new NoiseUpgrader({ identity: Ed25519Identity.generate(provider) })
    const listener = new NoiseUpgrader({ identity: Ed25519Identity.generate(provider) })
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise<void>((resolve) => server.once('listening', () => resolve()))
    const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve))
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`)
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('open', () => resolve())
        client.once('error', reject)
      })
      const outbound = channelOf(client, 'outbound')
      const inbound = channelOf(await accepted, 'inbound')
      const signal = AbortSignal.timeout(20_000)
      const [a, b] = await Promise.all([
        dialer.upgrade(outbound, {
          localId: dialer.identity.nodeId,
          expectedPeer: listener.identity.nodeId,
          signal,
        }),
        listener.upgrade(inbound, { localId: listener.identity.nodeId, signal }),
      ])
      expect(b.remotePeer.equals(dialer.identity.nodeId)).toBe(true)
      const large = new Uint8Array(200_000).map((_, i) => i & 0xff)
      outbound.send(a.seal(large))
      inbound.send(b.seal(new TextEncoder().encode('pong')))
      const received = b.open(await inbound.receive(signal))
      expect(Buffer.compare(received, large)).toBe(0)
      expect(new TextDecoder().decode(a.open(await outbound.receive(signal)))).toBe('pong')
    } finally {
      client.terminate()
      for (const socket of server.clients) socket.terminate()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})
