// Goal: the README's example runs as written. Method: the code between the markers is copied
// verbatim into README.md; this test runs it over a real TCP connection on 127.0.0.1.
import { expect, it } from 'vitest'
// README-IMPORTS-START
import { connect, createServer } from 'node:net'
import type { Socket } from 'node:net'
import type { HandshakeChannel } from '@socketcloud/core'
import {
  Ed25519Identity,
  Ed25519Verifier,
  NoiseUpgrader,
  defaultCryptoProvider,
  delegateCapability,
  formatCapability,
  issueCapability,
  parseCapability,
  verifyCapability,
} from '@socketcloud/security'
import type { NoiseSecureSession } from '@socketcloud/security'
// README-IMPORTS-END

it('README example: two nodes handshake over TCP, one delegates a capability, the other verifies it', async () => {
  // README-EXAMPLE-START
  // A stream transport gives the upgrader a framed channel; here, 4-byte length prefixes over node:net.
  function framed(socket: Socket, direction: 'inbound' | 'outbound') {
    const frames: Uint8Array[] = []
    const waiting: ((frame: Uint8Array) => void)[] = []
    let buffered = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
        const frame = new Uint8Array(buffered.subarray(4, 4 + buffered.readUInt32BE(0)))
        buffered = buffered.subarray(4 + frame.length)
        const waiter = waiting.shift()
        if (waiter) waiter(frame)
        else frames.push(frame)
      }
    })
    const channel: HandshakeChannel = {
      direction,
      remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`,
      send(frame) {
        const header = Buffer.alloc(4)
        header.writeUInt32BE(frame.length)
        socket.write(Buffer.concat([header, frame]))
      },
      receive: () => {
        const frame = frames.shift()
        return frame ? Promise.resolve(frame) : new Promise((resolve) => waiting.push(resolve))
      },
    }
    return channel
  }

  const provider = defaultCryptoProvider() // node:crypto; createPortableCryptoProvider() for @noble
  const operator = Ed25519Identity.generate() // offline root of trust
  const alice = Ed25519Identity.generate() // in production: await loadOrCreateIdentity(path)
  const bob = Ed25519Identity.generate()
  const aliceUpgrader = new NoiseUpgrader({ identity: alice })
  const bobUpgrader = new NoiseUpgrader({ identity: bob })

  // Alice listens; Bob dials her and insists on talking to Alice's NodeId.
  const aliceSession = new Promise<NoiseSecureSession>((resolve, reject) => {
    const server = createServer((socket) => {
      server.close()
      const channel = framed(socket, 'inbound')
      aliceUpgrader
        .upgrade(channel, { localId: alice.nodeId, signal: AbortSignal.timeout(5000) })
        .then((session) => resolve(Object.assign(session, { channel, socket })), reject)
    })
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      const socket = connect(port, '127.0.0.1')
      socket.on('connect', () => {
        const channel = framed(socket, 'outbound')
        bobUpgrader
          .upgrade(channel, {
            localId: bob.nodeId,
            expectedPeer: alice.nodeId,
            signal: AbortSignal.timeout(5000),
          })
          .then(async (bobSession) => {
            // The operator granted Alice read/write on kv/*; Alice delegates read-only kv/users/* to Bob.
            const now = Date.now()
            const toAlice = issueCapability(
              operator,
              {
                audience: alice.nodeId,
                resource: 'kv/*',
                abilities: ['kv/read', 'kv/write'],
                caveats: {},
                notBeforeMs: now - 60_000,
                expiresMs: now + 3_600_000,
                quorum: undefined,
              },
              { provider },
            )
            const toBob = delegateCapability(
              alice,
              toAlice,
              { ...toAlice, audience: bob.nodeId, resource: 'kv/users/*', abilities: ['kv/read'] },
              { provider },
            )
            // Bob presents the printable token (e.g. an HTTP header) to Alice over the secure channel.
            const request = JSON.stringify({ op: 'get', key: 'kv/users/42', token: formatCapability(toBob) })
            channel.send(bobSession.seal(new TextEncoder().encode(request)))
            socket.end()
          }, reject)
      })
    })
  })

  const session = (await aliceSession) as Awaited<typeof aliceSession> & { channel: HandshakeChannel }
  const request = JSON.parse(
    new TextDecoder().decode(session.open(await session.channel.receive(AbortSignal.timeout(5000)))),
  )
  const verdict = verifyCapability(parseCapability(request.token), {
    provider,
    verifier: new Ed25519Verifier(provider),
    trustedRoots: [operator.publicKey],
    holder: session.remotePeer, // proven by the Noise handshake, not claimed by the request
    nowMs: Date.now(),
    request: { resource: request.key, ability: 'kv/read' },
  })
  console.log(
    session.noiseProtocol,
    session.remotePeer.toShortString(),
    verdict.ok ? 'granted' : verdict.reason,
  )
  // -> Noise_XX_25519_ChaChaPoly_BLAKE2b 3f2a9c1e07b4 granted
  // README-EXAMPLE-END
  expect(session.remotePeer.equals(bob.nodeId)).toBe(true)
  expect(verdict).toMatchObject({ ok: true, chainLength: 2, resource: 'kv/users/*' })
  const write = verifyCapability(parseCapability(request.token), {
    provider,
    verifier: new Ed25519Verifier(provider),
    trustedRoots: [operator.publicKey],
    holder: session.remotePeer,
    nowMs: Date.now(),
    request: { resource: request.key, ability: 'kv/write' },
  })
  expect(write).toMatchObject({ ok: false, reason: 'NOT_GRANTED' })
})
