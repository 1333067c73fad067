import { createConnection, createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import {
  Ed25519Identity,
  Ed25519Verifier,
  NoiseUpgrader,
  SecureHandshake,
  createNativeCryptoProvider,
  createPortableCryptoProvider,
  delegateCapability,
  generateKeyPair,
  issueCapability,
  verifyCapability,
} from '@socketcloud/security'
import type { CapabilityToken, CryptoProvider, NoiseSecureSession } from '@socketcloud/security'
import type { HandshakeChannel } from '@socketcloud/core'
import type { BenchCase, BenchContext } from '../src/harness'
import { defineBenchmark } from '../src/harness'

const MESSAGE_BYTES = 64 * 1024
const MESSAGES_PER_BATCH = 64
const HOUR = 3_600_000

/**
 * @socketcloud/security, both crypto providers side by side: Noise XX and IK handshakes per second
 * (both sides computed in one process, so the figure is per core pair of peers), ed25519 signatures
 * and verifications per second, capability verification for chains of 1, 3 and 8, and encrypted
 * throughput of 64 KiB messages over a real TCP connection on 127.0.0.1. Baseline in the same run:
 * the same framed messages over plaintext TCP.
 */
export default defineBenchmark({
  name: 'security',
  description:
    'Noise XX/IK handshakes/s, sign/verify/s, token chains 1/3/8, encrypted TCP MB/s vs plaintext TCP; native vs portable',
  async run(ctx) {
    const cases: BenchCase[] = []
    const options = ctx.quick ? undefined : { warmupMs: 500, durationMs: 1500, runs: 3 }
    for (const provider of [createNativeCryptoProvider(), createPortableCryptoProvider()]) {
      const label = (what: string) => `${provider.name}: ${what}`
      const alice = Ed25519Identity.generate(provider)
      const bob = Ed25519Identity.generate(provider)
      const verifier = new Ed25519Verifier(provider)
      const aliceStatic = generateKeyPair(provider)
      const bobStatic = generateKeyPair(provider)

      for (const pattern of ['XX', 'IK'] as const) {
        cases.push(
          await ctx.measureLatency(
            label(`Noise_${pattern}_25519_ChaChaPoly_BLAKE2b handshake`),
            () => {
              const initiator = new SecureHandshake({
                initiator: true,
                provider,
                signer: alice,
                verifier,
                staticKeyPair: aliceStatic,
                hash: 'BLAKE2b',
                ...(pattern === 'IK' ? { remoteStaticPublicKey: bobStatic.publicKey } : {}),
              })
              const responder = new SecureHandshake({
                initiator: false,
                provider,
                signer: bob,
                verifier,
                staticKeyPair: bobStatic,
              })
              let step = initiator.start()
              let sides: [SecureHandshake, SecureHandshake] = [responder, initiator]
              while (step.send) {
                step = sides[0].receive(step.send)
                sides = [sides[1], sides[0]]
              }
            },
            options,
          ),
        )
      }

      const message = new Uint8Array(256).fill(1)
      const signature = alice.sign(message)
      cases.push(await ctx.measureLatency(label('ed25519 sign 256 B'), () => alice.sign(message), options))
      cases.push(
        await ctx.measureLatency(
          label('ed25519 verify 256 B'),
          () => verifier.verify('ed25519', alice.publicKey, message, signature),
          options,
        ),
      )

      for (const length of [1, 3, 8]) {
        const { token, holder } = capabilityChain(provider, length)
        const nowMs = 1_800_000_000_000
        const verifyOptions = {
          provider,
          verifier,
          trustedRoots: [token.root.publicKey],
          holder: holder.nodeId,
          nowMs,
          request: { resource: 'kv/users/7', ability: 'kv/read' },
        }
        if (!verifyCapability(token.leaf, verifyOptions).ok)
          throw new Error('benchmark token chain must verify')
        cases.push(
          await ctx.measureLatency(
            label(`capability verify, chain of ${length}`),
            () => verifyCapability(token.leaf, verifyOptions),
            options,
          ),
        )
      }

      cases.push(
        await encryptedTcp(ctx, provider, label(`encrypted TCP, ${MESSAGE_BYTES / 1024} KiB messages`)),
      )
    }
    const baseline = [await plaintextTcp(ctx, `plaintext TCP, ${MESSAGE_BYTES / 1024} KiB messages`)]
    return {
      name: 'security',
      cases,
      baseline: { 'plaintext TCP (same framing, no encryption)': baseline },
      notes: [
        'Handshake figures compute both peers in one process: each handshake is one initiator plus one responder.',
        'Token verification checks every signature in the chain and hashes each link for its id (revocation).',
        'TCP: one connection on 127.0.0.1, 4-byte length framing, the receiver opens every frame before a batch counts.',
      ],
    }
  },
})

function capabilityChain(
  provider: CryptoProvider,
  length: number,
): { token: { root: Ed25519Identity; leaf: CapabilityToken }; holder: Ed25519Identity } {
  const root = Ed25519Identity.generate(provider)
  let holder = Ed25519Identity.generate(provider)
  const claims = (audience: Ed25519Identity, resource: string) => ({
    audience: audience.nodeId,
    resource,
    abilities: ['kv/read', 'kv/write'],
    caveats: { region: 'eu' },
    notBeforeMs: 1_700_000_000_000,
    expiresMs: 1_700_000_000_000 + 100_000 * HOUR,
    quorum: undefined,
  })
  let leaf = issueCapability(root, claims(holder, 'kv/*'), { provider })
  for (let link = 1; link < length; link++) {
    const next = Ed25519Identity.generate(provider)
    leaf = delegateCapability(holder, leaf, claims(next, link === 1 ? 'kv/users/*' : leaf.resource), {
      provider,
    })
    holder = next
  }
  return { token: { root, leaf }, holder }
}

/** A socket with 4-byte length framing; calls `onFrame` for every whole frame. */
function frame(socket: Socket, onFrame: (frame: Uint8Array) => void): (bytes: Uint8Array) => boolean {
  let pending: Buffer = Buffer.alloc(0)
  socket.setNoDelay(true)
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0)
      if (pending.length < 4 + length) break
      onFrame(pending.subarray(4, 4 + length))
      pending = pending.subarray(4 + length)
    }
  })
  return (bytes) => {
    const header = Buffer.allocUnsafe(4)
    header.writeUInt32BE(bytes.length, 0)
    socket.write(header)
    return socket.write(bytes)
  }
}

interface TcpPair {
  dialed: Socket
  accepted: Socket
  close(): Promise<void>
}

async function tcpPair(): Promise<TcpPair> {
  let resolveAccepted!: (socket: Socket) => void
  const acceptedPromise = new Promise<Socket>((resolve) => (resolveAccepted = resolve))
  const server = createServer((socket) => resolveAccepted(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const dialed = await new Promise<Socket>((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => resolve(socket))
    socket.once('error', reject)
  })
  const accepted = await acceptedPromise
  return {
    dialed,
    accepted,
    close: async () => {
      dialed.destroy()
      accepted.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A HandshakeChannel over a framed socket, for the upgrade only. */
function handshakeChannel(
  direction: 'inbound' | 'outbound',
  send: (bytes: Uint8Array) => boolean,
  inbox: Uint8Array[],
  waiters: ((frame: Uint8Array) => void)[],
): HandshakeChannel {
  return {
    direction,
    remoteAddress: '127.0.0.1',
    send: (bytes) => void send(bytes),
    receive: () => {
      const next = inbox.shift()
      return next ? Promise.resolve(next) : new Promise((resolve) => waiters.push(resolve))
    },
  }
}

/** Streams MESSAGES_PER_BATCH messages per batch from dialer to listener; a batch ends when all arrived. */
async function streamThroughput(
  ctx: BenchContext,
  caseName: string,
  pair: TcpPair,
  seal: (plaintext: Uint8Array) => Uint8Array,
  open: (frame: Uint8Array) => Uint8Array,
  sendDialed: (bytes: Uint8Array) => boolean,
  setReceiver: (onFrame: (frame: Uint8Array) => void) => void,
): Promise<BenchCase> {
  const payload = new Uint8Array(MESSAGE_BYTES).fill(0x5a)
  let received = 0
  let target = 0
  let wake: (() => void) | undefined
  setReceiver((frame) => {
    const plaintext = open(frame)
    if (plaintext.length !== MESSAGE_BYTES) throw new Error('benchmark frame lost bytes')
    received++
    if (received >= target && wake) {
      wake()
      wake = undefined
    }
  })
  return ctx.measureThroughput(
    caseName,
    async () => {
      target = received + MESSAGES_PER_BATCH
      const arrived = new Promise<void>((resolve) => (wake = resolve))
      for (let i = 0; i < MESSAGES_PER_BATCH; i++) {
        if (!sendDialed(seal(payload))) await new Promise((resolve) => pair.dialed.once('drain', resolve))
      }
      await arrived
      return { operations: MESSAGES_PER_BATCH, bytes: MESSAGES_PER_BATCH * MESSAGE_BYTES }
    },
    ctx.quick ? undefined : { warmupMs: 500, durationMs: 2000, runs: 3 },
  )
}

async function encryptedTcp(
  ctx: BenchContext,
  provider: CryptoProvider,
  caseName: string,
): Promise<BenchCase> {
  const pair = await tcpPair()
  try {
    const dialer = new NoiseUpgrader({ identity: Ed25519Identity.generate(provider) })
    const listener = new NoiseUpgrader({ identity: Ed25519Identity.generate(provider) })
    let onDialerFrame: (frame: Uint8Array) => void = () => undefined
    let onListenerFrame: (frame: Uint8Array) => void = () => undefined
    const sendDialed = frame(pair.dialed, (bytes) => onDialerFrame(bytes))
    const sendAccepted = frame(pair.accepted, (bytes) => onListenerFrame(bytes))
    const channel = (direction: 'inbound' | 'outbound', send: (bytes: Uint8Array) => boolean) => {
      const inbox: Uint8Array[] = []
      const waiters: ((frame: Uint8Array) => void)[] = []
      const deliver = (bytes: Uint8Array) => {
        const waiter = waiters.shift()
        if (waiter) waiter(Uint8Array.from(bytes))
        else inbox.push(Uint8Array.from(bytes))
      }
      return { channel: handshakeChannel(direction, send, inbox, waiters), deliver }
    }
    const outbound = channel('outbound', sendDialed)
    const inbound = channel('inbound', sendAccepted)
    onDialerFrame = outbound.deliver
    onListenerFrame = inbound.deliver
    const signal = AbortSignal.timeout(10_000)
    const [dialed, accepted]: NoiseSecureSession[] = await Promise.all([
      dialer.upgrade(outbound.channel, {
        localId: dialer.identity.nodeId,
        expectedPeer: listener.identity.nodeId,
        signal,
      }),
      listener.upgrade(inbound.channel, { localId: listener.identity.nodeId, signal }),
    ])
    return await streamThroughput(
      ctx,
      caseName,
      pair,
      (plaintext) => dialed!.seal(plaintext),
      (bytes) => accepted!.open(bytes),
      sendDialed,
      (receiver) => (onListenerFrame = receiver),
    )
  } finally {
    await pair.close()
  }
}

async function plaintextTcp(ctx: BenchContext, caseName: string): Promise<BenchCase> {
  const pair = await tcpPair()
  try {
    let onFrame: (frame: Uint8Array) => void = () => undefined
    const sendDialed = frame(pair.dialed, () => undefined)
    frame(pair.accepted, (bytes) => onFrame(bytes))
    return await streamThroughput(
      ctx,
      caseName,
      pair,
      (plaintext) => plaintext,
      (bytes) => Uint8Array.from(bytes),
      sendDialed,
      (receiver) => (onFrame = receiver),
    )
  } finally {
    await pair.close()
  }
}
