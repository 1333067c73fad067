// Goal: the Noise upgrader gives two nodes an authenticated, encrypted session in which each knows
// the other's NodeId for certain, over in-memory channels and real TCP, with both providers and
// hashes; and it refuses every bad input with a typed error.
// Method: run both ends of `upgrade` against each other over channels we control, then exercise
// seal/open; tamper with frames in flight for the refusal cases.
import { TransportError } from '@socketcloud/core'
import type { Signer, NodeId } from '@socketcloud/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createNativeCryptoProvider, createPortableCryptoProvider } from '../providers/index'
import type { CryptoProvider } from '../providers/index'
import { Ed25519Identity } from '../identity/identity'
import { generateKeyPair } from '../core/noise/handshake-state'
import { CHUNK_PLAINTEXT_BYTES_MAX, sealOverheadBytes } from '../core/channel/noise-session'
import { NoiseUpgrader } from './noise-upgrader'
import type { NoiseSecureSession, NoiseUpgraderInit } from './noise-upgrader'
import { framedTcpPair, memoryChannelPair } from './test-channels'
import type { MemoryChannel } from './test-channels'

const native = createNativeCryptoProvider()
const portable = createPortableCryptoProvider()

function node(provider: CryptoProvider, init: Partial<NoiseUpgraderInit> = {}): NoiseUpgrader {
  return new NoiseUpgrader({ identity: Ed25519Identity.generate(provider), ...init })
}

function signal(): AbortSignal {
  return AbortSignal.timeout(20_000)
}

async function connect(
  dialer: NoiseUpgrader,
  listener: NoiseUpgrader,
  channels: [MemoryChannel, MemoryChannel] = memoryChannelPair(),
  expectedPeer: NodeId | undefined = listener.identity.nodeId,
): Promise<[NoiseSecureSession, NoiseSecureSession]> {
  const [outbound, inbound] = channels
  return Promise.all([
    dialer.upgrade(outbound, {
      localId: dialer.identity.nodeId,
      signal: signal(),
      ...(expectedPeer ? { expectedPeer } : {}),
    }),
    listener.upgrade(inbound, { localId: listener.identity.nodeId, signal: signal() }),
  ])
}

/** toEqual walks arrays element by element; megabyte payloads need a byte comparison. */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length)
  expect(Buffer.compare(actual, expected)).toBe(0)
}

function bytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

/** Settles both upgrades; the side that fails first closes its channel, as a transport would. */
async function connectExpectingFailure(
  dialer: NoiseUpgrader,
  listener: NoiseUpgrader,
  channels: [MemoryChannel, MemoryChannel],
  expectedPeer?: NodeId,
): Promise<[PromiseSettledResult<NoiseSecureSession>, PromiseSettledResult<NoiseSecureSession>]> {
  const [outbound, inbound] = channels
  const closeOnFailure = (promise: Promise<NoiseSecureSession>, channel: MemoryChannel) =>
    promise.catch((error: unknown) => {
      channel.close()
      throw error
    })
  const results = await Promise.allSettled([
    closeOnFailure(
      dialer.upgrade(outbound, {
        localId: dialer.identity.nodeId,
        signal: signal(),
        ...(expectedPeer ? { expectedPeer } : {}),
      }),
      outbound,
    ),
    closeOnFailure(
      listener.upgrade(inbound, { localId: listener.identity.nodeId, signal: signal() }),
      inbound,
    ),
  ])
  return results
}

function transportErrorCode(result: PromiseSettledResult<unknown>): string | undefined {
  if (result.status === 'fulfilled') return undefined
  expect(result.reason).toBeInstanceOf(TransportError)
  return (result.reason as TransportError).code
}

describe.each([
  ['native', 'BLAKE2b', native],
  ['native', 'SHA256', native],
  ['portable', 'BLAKE2b', portable],
  ['portable', 'SHA256', portable],
] as const)('%s provider, %s', (_name, hash, provider) => {
  it('XX then IK: both sides learn each other’s NodeId and exchange messages', async () => {
    const dialer = node(provider, { hash })
    const listener = node(provider, { hash })
    const [a, b] = await connect(dialer, listener)
    expect(a.noiseProtocol).toBe(`Noise_XX_25519_ChaChaPoly_${hash}`)
    expect(b.noiseProtocol).toBe(a.noiseProtocol)
    expect(a.remotePeer.equals(listener.identity.nodeId)).toBe(true)
    expect(b.remotePeer.equals(dialer.identity.nodeId)).toBe(true)
    expect(a.handshakeHash).toEqual(b.handshakeHash)
    expect(b.open(a.seal(bytes(100)))).toEqual(bytes(100))
    expect(a.open(b.seal(bytes(7, 3)))).toEqual(bytes(7, 3))

    // The second dial to a peer whose static key is now known takes one round trip (IK).
    const [c, d] = await connect(dialer, listener)
    expect(c.noiseProtocol).toBe(`Noise_IK_25519_ChaChaPoly_${hash}`)
    expect(c.remotePeer.equals(listener.identity.nodeId)).toBe(true)
    expect(d.remotePeer.equals(dialer.identity.nodeId)).toBe(true)
    expect(d.open(c.seal(bytes(33)))).toEqual(bytes(33))
    // Fresh ephemeral keys every time: the sessions share nothing.
    expect(c.handshakeHash).not.toEqual(a.handshakeHash)
  })
})

describe('native and portable providers interoperate', () => {
  it.each([
    [native, portable],
    [portable, native],
  ])('%s dials %s', async (dialerProvider, listenerProvider) => {
    const dialer = node(dialerProvider)
    const listener = node(listenerProvider)
    for (const expected of ['XX', 'IK']) {
      const [a, b] = await connect(dialer, listener)
      expect(a.noiseProtocol).toContain(`_${expected}_`)
      expectSameBytes(b.open(a.seal(bytes(70_000))), bytes(70_000))
      expect(a.open(b.seal(bytes(5)))).toEqual(bytes(5))
    }
  })
})

describe('identity binding', () => {
  it('refuses a peer whose NodeId is not the expected one (PEER_ID_MISMATCH) and the listener fails too', async () => {
    const dialer = node(native)
    const listener = node(native)
    const someoneElse = Ed25519Identity.generate(native).nodeId
    const [dialed, accepted] = await connectExpectingFailure(
      dialer,
      listener,
      memoryChannelPair(),
      someoneElse,
    )
    expect(transportErrorCode(dialed)).toBe('PEER_ID_MISMATCH')
    expect(transportErrorCode(accepted)).toBe('CONNECTION_CLOSED')
  })

  it('refuses a peer that replays another identity’s signature over its own static key', async () => {
    const victim = node(native)
    const attackerStatic = generateKeyPair(native)
    // The attacker presents the victim's identity key and a signature the victim really made, but
    // over the victim's Noise static key, not the attacker's.
    const recorded = (message: Uint8Array) => victim.identity.sign(message)
    const forgedSigner: Signer = {
      algorithm: 'ed25519',
      publicKey: victim.identity.publicKey,
      sign: () =>
        recorded(
          new Uint8Array([
            ...new TextEncoder().encode('SocketCloud noise static key v1\0'),
            ...victim.staticPublicKey,
          ]),
        ),
    }
    const attacker = new NoiseUpgrader({
      identity: Ed25519Identity.generate(native),
      staticKeyPair: attackerStatic,
    })
    // Swap in the forged signer: the upgrader signs with `identity`, so wrap it.
    Object.defineProperty(attacker, 'identity', {
      value: Object.assign(Object.create(attacker.identity) as Ed25519Identity, forgedSigner, {
        nodeId: attacker.identity.nodeId,
      }),
    })
    const listener = node(native)
    const [dialed, accepted] = await connectExpectingFailure(attacker, listener, memoryChannelPair())
    expect(transportErrorCode(accepted)).toBe('HANDSHAKE_FAILED')
    // In XX the initiator finishes on writing message 3, before the responder checks it; what the
    // attacker holds is a session nobody will answer.
    expect(dialed.status).toBe('fulfilled')
  })

  it('falls back to XX after an IK attempt meets a changed static key', async () => {
    const dialer = node(native)
    const identity = Ed25519Identity.generate(native)
    const first = new NoiseUpgrader({ identity, staticKeyPair: generateKeyPair(native) })
    await connect(dialer, first)
    expect(dialer.knowsPeer(identity.nodeId)).toBe(true)
    // Same identity, new static key (say, the operator rotated it): IK cannot work.
    const second = new NoiseUpgrader({ identity, staticKeyPair: generateKeyPair(native) })
    const [dialed, accepted] = await connectExpectingFailure(
      dialer,
      second,
      memoryChannelPair(),
      identity.nodeId,
    )
    expect(transportErrorCode(accepted)).toBe('HANDSHAKE_FAILED')
    expect(dialed.status).toBe('rejected')
    expect(dialer.knowsPeer(identity.nodeId)).toBe(false)
    const [a] = await connect(dialer, second)
    expect(a.noiseProtocol).toContain('_XX_')
  })
})

describe('transport phase', () => {
  it('carries a plaintext far larger than one Noise message in one frame', async () => {
    const [a, b] = await connect(node(native), node(native))
    const big = bytes(5 * 1024 * 1024 + 17)
    const frame = a.seal(big)
    expect(frame.length).toBe(big.length + sealOverheadBytes(big.length))
    expectSameBytes(b.open(frame), big)
    // Exactly at the limit (16 MiB, the transport's frameBytesMax) works; one byte more is refused
    // before anything is encrypted.
    const limit = a.plaintextBytesMax
    expect(limit).toBe(16 * 1024 * 1024)
    expect(b.open(a.seal(new Uint8Array(limit))).length).toBe(limit)
    expect(() => a.seal(new Uint8Array(limit + 1))).toThrow(/frameBytesMax/)
    expect(b.open(a.seal(new Uint8Array(0)))).toEqual(new Uint8Array(0))
  })

  it('round-trips any sequence of messages, across chunk boundaries, both ways', async () => {
    const [a, b] = await connect(node(native), node(portable), memoryChannelPair())
    const size = fc.oneof(
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: CHUNK_PLAINTEXT_BYTES_MAX - 2, max: CHUNK_PLAINTEXT_BYTES_MAX * 2 + 2 }),
    )
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), size, fc.nat(255)), { maxLength: 12 }), (messages) => {
        for (const [fromA, length, seed] of messages) {
          const [sender, receiver] = fromA ? [a, b] : [b, a]
          expectSameBytes(receiver.open(sender.seal(bytes(length, seed))), bytes(length, seed))
        }
      }),
      { numRuns: 40 },
    )
  })

  it('rekeys on schedule: equal intervals interoperate, different intervals cannot', async () => {
    const [a, b] = await connect(
      node(native, { rekeyIntervalMessages: 3 }),
      node(native, { rekeyIntervalMessages: 3 }),
    )
    for (let i = 0; i < 50; i++) {
      expect(b.open(a.seal(bytes(10, i)))).toEqual(bytes(10, i))
      expectSameBytes(
        a.open(b.seal(bytes(CHUNK_PLAINTEXT_BYTES_MAX + 1, i))),
        bytes(CHUNK_PLAINTEXT_BYTES_MAX + 1, i),
      )
    }
    const [c, d] = await connect(
      node(native, { rekeyIntervalMessages: 3 }),
      node(native, { rekeyIntervalMessages: 4 }),
    )
    for (let i = 0; i < 3; i++) expect(d.open(c.seal(bytes(10, i)))).toEqual(bytes(10, i))
    // Message 4 is sealed under the rekeyed key, which the other side has not switched to yet.
    expect(() => d.open(c.seal(bytes(10)))).toThrow(TransportError)
  })

  it('stops hard at the session message limit instead of reusing a nonce', async () => {
    const [a, b] = await connect(
      node(native, { sessionMessagesMax: 5 }),
      node(native, { sessionMessagesMax: 5 }),
    )
    for (let i = 0; i < 5; i++) b.open(a.seal(bytes(4, i)))
    expect(() => a.seal(bytes(4))).toThrow(expect.objectContaining({ code: 'NONCE_EXHAUSTED' }))
    // The session stays dead.
    expect(() => a.seal(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'NONCE_EXHAUSTED' }))
    // A message that needs more chunks than remain is refused whole, never half-sent.
    const [c] = await connect(node(native, { sessionMessagesMax: 2 }), node(native))
    expect(() => c.seal(bytes(CHUNK_PLAINTEXT_BYTES_MAX * 2 + 1))).toThrow(
      expect.objectContaining({ code: 'NONCE_EXHAUSTED' }),
    )
  })
})

describe('bad input on an established session', () => {
  async function pair(): Promise<[NoiseSecureSession, NoiseSecureSession]> {
    return connect(node(native), node(native))
  }
  const refusedAsBadFrame = (action: () => unknown) =>
    expect(action).toThrow(expect.objectContaining({ name: 'TransportError', code: 'BAD_FRAME' }))

  it('refuses a tampered ciphertext, and the session stays closed afterwards', async () => {
    const positions = [0, 1, 2, 10, 40, -1]
    for (const position of positions) {
      const [a, b] = await pair()
      const frame = a.seal(bytes(40))
      const index = position < 0 ? frame.length + position : position
      frame[index]! ^= 0x01
      refusedAsBadFrame(() => b.open(frame))
      refusedAsBadFrame(() => b.open(a.seal(bytes(5))))
    }
  })

  it('refuses a replayed frame and reordered frames', async () => {
    const [a, b] = await pair()
    const first = a.seal(bytes(10, 1))
    expect(b.open(first)).toEqual(bytes(10, 1))
    refusedAsBadFrame(() => b.open(first))
    const [c, d] = await pair()
    const one = c.seal(bytes(10, 1))
    const two = c.seal(bytes(10, 2))
    refusedAsBadFrame(() => d.open(two))
    void one
  })

  it('refuses a multi-chunk frame cut short at a chunk boundary, or with a chunk appended', async () => {
    const size = CHUNK_PLAINTEXT_BYTES_MAX * 2 + 10
    const [a, b] = await pair()
    const frame = a.seal(bytes(size))
    const firstChunkEnd = 2 + ((frame[0]! << 8) | frame[1]!)
    refusedAsBadFrame(() => b.open(frame.subarray(0, firstChunkEnd)))
    const [c, d] = await pair()
    const whole = c.seal(bytes(size))
    const extra = c.seal(bytes(3))
    refusedAsBadFrame(() => d.open(new Uint8Array([...whole, ...extra])))
  })

  it('refuses arbitrary garbage without crashing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (garbage) => {
        const [, b] = await pair()
        refusedAsBadFrame(() => b.open(garbage))
      }),
      { numRuns: 30 },
    )
  })
})

describe('bad input during the handshake', () => {
  it('refuses a truncated message at every step of XX and IK', async () => {
    for (const pattern of ['XX', 'IK']) {
      for (const target of [0, 1, 2]) {
        const dialer = node(native)
        const listener = node(native)
        if (pattern === 'IK') dialer.rememberPeer(listener.identity.nodeId, listener.staticPublicKey)
        let seen = 0
        const channels = memoryChannelPair((frame) => [
          seen++ === target ? frame.subarray(0, frame.length - 5) : frame,
        ])
        const results = await connectExpectingFailure(dialer, listener, channels, listener.identity.nodeId)
        if (pattern === 'IK' && target === 2) {
          // IK has two messages; there is no third to truncate.
          expect(results.every((result) => result.status === 'fulfilled')).toBe(true)
          continue
        }
        // The reader of the truncated message refuses it; the writer either already finished (the
        // pattern's last message) or sees the connection close.
        const [dialerCode, listenerCode] = results.map(transportErrorCode)
        const readerCode = target % 2 === 0 ? listenerCode : dialerCode
        const writerCode = target % 2 === 0 ? dialerCode : listenerCode
        expect(readerCode).toBe('HANDSHAKE_FAILED')
        expect([undefined, 'CONNECTION_CLOSED']).toContain(writerCode)
      }
    }
  })

  it('refuses messages delivered out of order or twice', async () => {
    const dialer = node(native)
    const listener = node(native)
    // Deliver the initiator's first message twice: the second copy arrives when the responder
    // expects message 3.
    const channels = memoryChannelPair((frame, from) =>
      from === 'outbound' && frame[0] === 1 ? [frame, frame] : [frame],
    )
    const [dialed, accepted] = await connectExpectingFailure(
      dialer,
      listener,
      channels,
      listener.identity.nodeId,
    )
    expect(transportErrorCode(accepted)).toBe('HANDSHAKE_FAILED')
    expect([undefined, 'CONNECTION_CLOSED']).toContain(transportErrorCode(dialed))
  })

  it('refuses handshake messages replayed from an earlier session', async () => {
    const dialer = node(native)
    const listener = node(native)
    // Record a complete XX handshake between the two.
    const recorded = memoryChannelPair()
    await connect(dialer, listener, recorded, undefined)
    const [oldMessage1, oldMessage3] = recorded[0].sent
    expect(oldMessage1 && oldMessage3).toBeTruthy()

    // Replaying the old first message starts a handshake the replayer cannot finish: the old
    // third message does not authenticate against the listener's fresh ephemeral key.
    const [outbound, inbound] = memoryChannelPair()
    const upgrade = listener.upgrade(inbound, { localId: listener.identity.nodeId, signal: signal() })
    outbound.send(oldMessage1!)
    await outbound.receive(signal())
    outbound.send(oldMessage3!)
    await expect(upgrade).rejects.toMatchObject({ code: 'HANDSHAKE_FAILED' })
  })

  it('refuses an unknown version, pattern or hash in the header', async () => {
    for (const [offset, value] of [
      [0, 9],
      [1, 7],
      [2, 9],
    ] as const) {
      const channels = memoryChannelPair((frame, from) => {
        if (from !== 'outbound' || frame.length < 32) return [frame]
        const copy = Uint8Array.from(frame)
        copy[offset] = value
        return [copy]
      })
      const [, accepted] = await connectExpectingFailure(node(native), node(native), channels)
      expect(transportErrorCode(accepted)).toBe('HANDSHAKE_FAILED')
    }
  })

  it('refuses a header downgrade (XX advertised as the SHA256 suite) through the prologue', async () => {
    const channels = memoryChannelPair((frame, from) => {
      if (from !== 'outbound' || frame[0] !== 1 || frame.length !== 35) return [frame]
      const copy = Uint8Array.from(frame)
      copy[2] = 1
      return [copy]
    })
    const [dialed, accepted] = await connectExpectingFailure(
      node(native, { hash: 'BLAKE2b' }),
      node(native),
      channels,
    )
    expect([transportErrorCode(dialed), transportErrorCode(accepted)]).toContain('HANDSHAKE_FAILED')
  })

  it('never crashes on random first frames', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (garbage) => {
        const listener = node(native)
        const [outbound, inbound] = memoryChannelPair()
        const upgrade = listener.upgrade(inbound, { localId: listener.identity.nodeId, signal: signal() })
        outbound.send(garbage)
        await expect(upgrade).rejects.toMatchObject({ code: 'HANDSHAKE_FAILED' })
      }),
      { numRuns: 50 },
    )
  })

  it('rejects with HANDSHAKE_TIMEOUT when the signal aborts', async () => {
    const listener = node(native)
    const [, inbound] = memoryChannelPair()
    const controller = new AbortController()
    const upgrade = listener.upgrade(inbound, {
      localId: listener.identity.nodeId,
      signal: controller.signal,
    })
    controller.abort()
    await expect(upgrade).rejects.toMatchObject({ code: 'HANDSHAKE_TIMEOUT' })
  })
})

describe('over real TCP', () => {
  it.each([
    ['native', native],
    ['portable', portable],
  ] as const)('%s: handshake, then 200 messages each way including 1 MiB ones', async (_name, provider) => {
    const tcp = await framedTcpPair()
    try {
      const dialer = node(provider)
      const listener = node(provider)
      const outboundSocket = await tcp.dial()
      const inboundSocket = await tcp.accepted
      const [a, b] = await Promise.all([
        dialer.upgrade(outboundSocket, {
          localId: dialer.identity.nodeId,
          expectedPeer: listener.identity.nodeId,
          signal: signal(),
        }),
        listener.upgrade(inboundSocket, { localId: listener.identity.nodeId, signal: signal() }),
      ])
      expect(a.remotePeer.equals(listener.identity.nodeId)).toBe(true)
      expect(b.remotePeer.equals(dialer.identity.nodeId)).toBe(true)
      const sizes = Array.from({ length: 200 }, (_, i) => (i % 50 === 0 ? 1024 * 1024 : (i * 997) % 70_000))
      for (const [index, size] of sizes.entries()) {
        outboundSocket.send(a.seal(bytes(size, index)))
        inboundSocket.send(b.seal(bytes(size, index + 1)))
      }
      for (const [index, size] of sizes.entries()) {
        expectSameBytes(b.open(await inboundSocket.receive()), bytes(size, index))
        expectSameBytes(a.open(await outboundSocket.receive()), bytes(size, index + 1))
      }
    } finally {
      await tcp.close()
    }
  })
})
