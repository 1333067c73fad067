/**
 * Goal: the ConnectionUpgrader seam behaves as `@socketcloud/security`'s Noise channel will need:
 * every message goes through `seal` in send order and `open` in receive order, sealing may add
 * overhead (a tag) without shrinking the largest message, a session that rejects a frame closes that
 * connection with a typed error, and an upgrader that fails or never finishes is cut off with
 * HANDSHAKE_FAILED / HANDSHAKE_TIMEOUT. Method: small test upgraders over real TCP on 127.0.0.1.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  NodeId,
  TransportError,
  type ConnectionUpgrader,
  type HandshakeChannel,
  type SecureSession,
  type UpgradeOptions,
} from '@socketcloud/core'
import { TransportManager } from '../src/index'
import { counterMessage, nextEvent, patternBytes, readCounter, testNodeId } from './helpers'

const TAG_BYTES = 16

/**
 * Exchanges ids like the plaintext upgrader, then seals each message with a 16-byte trailer carrying
 * its sequence number, and refuses any frame out of sequence: the shape of an AEAD with nonces.
 */
class SequencedUpgrader implements ConnectionUpgrader {
  readonly protocol = 'test-sequenced'
  sealed = 0
  opened = 0
  constructor(private readonly tamperAfter = Number.POSITIVE_INFINITY) {}

  async upgrade(channel: HandshakeChannel, options: UpgradeOptions): Promise<SecureSession> {
    channel.send(options.localId.bytes)
    const remotePeer = NodeId.fromBytes(await channel.receive(options.signal))
    let sendSequence = 0
    let receiveSequence = 0
    return {
      remotePeer,
      protocol: this.protocol,
      seal: (plaintext) => {
        const frame = new Uint8Array(plaintext.length + TAG_BYTES)
        frame.set(plaintext)
        const sequence = sendSequence++
        new DataView(frame.buffer).setUint32(
          plaintext.length,
          this.sealed >= this.tamperAfter ? sequence + 7 : sequence,
        )
        this.sealed++
        return frame
      },
      open: (frame) => {
        if (frame.length < TAG_BYTES) throw new TransportError('BAD_FRAME', 'frame shorter than its tag')
        const length = frame.length - TAG_BYTES
        const sequence = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(length)
        if (sequence !== receiveSequence)
          throw new TransportError('BAD_FRAME', `sequence ${sequence}, expected ${receiveSequence}`)
        receiveSequence++
        this.opened++
        return frame.slice(0, length)
      },
    }
  }
}

class FailingUpgrader implements ConnectionUpgrader {
  readonly protocol = 'test-failing'
  async upgrade(channel: HandshakeChannel): Promise<SecureSession> {
    await Promise.resolve()
    throw new TransportError('HANDSHAKE_FAILED', `refusing ${channel.remoteAddress}`)
  }
}

/** Never finishes and ignores the abort signal: the transport must still cut it off. */
class StuckUpgrader implements ConnectionUpgrader {
  readonly protocol = 'test-stuck'
  upgrade(): Promise<SecureSession> {
    return new Promise(() => undefined)
  }
}

let open: TransportManager[] = []
afterEach(async () => {
  await Promise.all(open.map((transport) => transport.close()))
  open = []
})
function transport(upgrader: ConnectionUpgrader, init = {}, id = testNodeId()): TransportManager {
  const created = new TransportManager(
    { localId: id, upgrader },
    { protocols: ['tcp'], reconnect: false, ...init },
  )
  open.push(created)
  return created
}

describe('ConnectionUpgrader seam', () => {
  it('seals every message in send order and opens in receive order', async () => {
    const upgrader = new SequencedUpgrader()
    const server = transport(upgrader)
    const client = transport(upgrader)
    const received: number[] = []
    server.events.on('message', ({ bytes }) => received.push(readCounter(bytes)))
    const peer = await client.dial(await server.listen('tcp://127.0.0.1:0'))
    for (let index = 0; index < 2_000; index++) expect(client.send(peer, counterMessage(index)).ok).toBe(true)
    await vi.waitFor(() => expect(received).toHaveLength(2_000))
    expect(received).toEqual([...Array(2_000).keys()])
    expect(upgrader.sealed).toBe(2_000)
    expect(upgrader.opened).toBe(2_000)
  })

  it('carries a message of exactly frameBytesMax although sealing adds a tag', async () => {
    const upgrader = new SequencedUpgrader()
    const init = { frameBytesMax: 256 * 1024 }
    const server = transport(upgrader, init)
    const client = transport(upgrader, init)
    const peer = await client.dial(await server.listen('tcp://127.0.0.1:0'))
    const largest = patternBytes(256 * 1024, 5)
    const arrived = nextEvent(server, 'message')
    expect(client.send(peer, largest.slice()).ok).toBe(true)
    expect(Buffer.from((await arrived).bytes).equals(Buffer.from(largest))).toBe(true)
  })

  it('closes the connection with BAD_FRAME when the session refuses a frame', async () => {
    const server = transport(new SequencedUpgrader())
    const client = transport(new SequencedUpgrader(3))
    const peer = await client.dial(await server.listen('tcp://127.0.0.1:0'))
    const error = nextEvent(server, 'error')
    const disconnected = nextEvent(server, 'peer:disconnect')
    for (let index = 0; index < 5; index++) client.send(peer, counterMessage(index))
    const reported = await error
    expect(reported.error.code).toBe('BAD_FRAME')
    expect(reported.error.context.reason).toBe('open_failed')
    expect(reported.peer?.equals(client.localId)).toBe(true)
    expect((await disconnected).error?.code).toBe('BAD_FRAME')
  })

  it('rejects the dial and reports the inbound failure when the upgrade fails', async () => {
    const server = transport(new FailingUpgrader())
    const client = transport(new FailingUpgrader())
    const address = await server.listen('tcp://127.0.0.1:0')
    const error = nextEvent(server, 'error')
    await expect(client.dial(address)).rejects.toMatchObject({ code: 'HANDSHAKE_FAILED' })
    expect((await error).error.code).toBe('HANDSHAKE_FAILED')
    expect(server.connectedPeers()).toEqual([])
  })

  it('cuts off an upgrade that never finishes after handshakeTimeoutMs', async () => {
    const init = { handshakeTimeoutMs: 150 }
    const server = transport(new StuckUpgrader(), init)
    const client = transport(new StuckUpgrader(), init)
    const address = await server.listen('tcp://127.0.0.1:0')
    const error = nextEvent(server, 'error')
    await expect(client.dial(address)).rejects.toMatchObject({ code: 'HANDSHAKE_TIMEOUT' })
    expect((await error).error.code).toBe('HANDSHAKE_TIMEOUT')
  })
})
