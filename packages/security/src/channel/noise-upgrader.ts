import { ConfigError, LimitExceededError, TransportError, checkLimit } from '@socketcloud/core'
import type {
  ConnectionUpgrader,
  HandshakeChannel,
  NodeId,
  SecureSession,
  UpgradeOptions,
  Verifier,
} from '@socketcloud/core'
import { SecureHandshake } from '../core/channel/secure-handshake'
import type { HandshakeStep } from '../core/channel/secure-handshake'
import { resolveSessionLimits } from '../core/channel/noise-session'
import type { NoiseSession, NoiseSessionLimits } from '../core/channel/noise-session'
import { keyPairFromPrivate, NOISE_MESSAGE_BYTES_MAX } from '../core/noise/handshake-state'
import type { KeyPair } from '../core/noise/handshake-state'
import type { Ed25519Identity } from '../identity/identity'
import { Ed25519Verifier } from '../identity/identity'
import type { CryptoProvider, HashAlgorithm } from '../providers/index'

export const NOISE_UPGRADER_PROTOCOL = 'noise'
/** A handshake frame is one Noise message plus, on the first, a 3-byte header. */
const HANDSHAKE_FRAME_BYTES_MAX = NOISE_MESSAGE_BYTES_MAX + 3

export interface NoiseUpgraderInit extends NoiseSessionLimits {
  /** This node's identity; it signs the Noise static key in every handshake. */
  readonly identity: Ed25519Identity
  /** Primitives. @default identity.provider */
  readonly provider?: CryptoProvider
  /** Checks the peer's identity signature. @default an Ed25519Verifier on the same provider */
  readonly verifier?: Verifier
  /** The Noise hash this node asks for when it dials (a responder accepts both). @default 'BLAKE2b' */
  readonly hash?: HashAlgorithm
  /**
   * Dial with IK (one round trip) when the expected peer's Noise static key is remembered from an
   * earlier handshake; otherwise XX. A failed IK attempt forgets the key, so the next dial uses XX.
   * @default true
   */
  readonly useIk?: boolean
  /** Peers whose Noise static keys are remembered for IK; the oldest is forgotten first. @default 4096 */
  readonly knownPeersMax?: number
  /** The Noise static key pair. @default derived one-way from the identity seed (stable across restarts) */
  readonly staticKeyPair?: KeyPair
}

/** The SecureSession of a Noise connection, with what the handshake established. */
export interface NoiseSecureSession extends SecureSession {
  /** Exact Noise protocol name, e.g. `Noise_XX_25519_ChaChaPoly_BLAKE2b`. */
  readonly noiseProtocol: string
  readonly handshakeHash: Uint8Array
  /** The peer's ed25519 identity key; `remotePeer` is its SHA-256. */
  readonly remoteIdentityKey: Uint8Array
  /** Largest plaintext `seal` accepts. */
  readonly plaintextBytesMax: number
}

class SealedSession implements NoiseSecureSession {
  readonly protocol = NOISE_UPGRADER_PROTOCOL
  readonly plaintextBytesMax: number

  constructor(
    readonly remotePeer: NodeId,
    readonly noiseProtocol: string,
    readonly handshakeHash: Uint8Array,
    readonly remoteIdentityKey: Uint8Array,
    private readonly session: NoiseSession,
  ) {
    this.plaintextBytesMax = session.plaintextBytesMax
  }

  seal(plaintext: Uint8Array): Uint8Array {
    return this.session.seal(plaintext)
  }

  open(frame: Uint8Array): Uint8Array {
    return this.session.open(frame)
  }
}

/**
 * Core's ConnectionUpgrader for the Noise secure channel: mutual authentication bound to ed25519
 * identities, forward secrecy from ephemeral keys, XX or IK with 25519/ChaChaPoly/SHA256|BLAKE2b.
 * The outbound side is the Noise initiator. This class is the driver: it moves frames between the
 * HandshakeChannel and the pure `SecureHandshake`; every refusal rejects with a TransportError
 * (HANDSHAKE_FAILED, PEER_ID_MISMATCH, or the channel's own CONNECTION_CLOSED/HANDSHAKE_TIMEOUT).
 */
export class NoiseUpgrader implements ConnectionUpgrader {
  readonly protocol = NOISE_UPGRADER_PROTOCOL
  readonly identity: Ed25519Identity
  private readonly provider: CryptoProvider
  private readonly verifier: Verifier
  private readonly hash: HashAlgorithm
  private readonly useIk: boolean
  private readonly knownPeersMax: number
  private readonly staticKeyPair: KeyPair
  private readonly sessionLimits: NoiseSessionLimits
  /** NodeId hex -> Noise static public key, in least-recently-used order. */
  private readonly knownStatics = new Map<string, Uint8Array>()

  constructor(init: NoiseUpgraderInit) {
    this.identity = init.identity
    this.provider = init.provider ?? init.identity.provider
    this.verifier = init.verifier ?? new Ed25519Verifier(this.provider)
    this.hash = init.hash ?? 'BLAKE2b'
    if (this.hash !== 'SHA256' && this.hash !== 'BLAKE2b') {
      throw new ConfigError(`hash must be SHA256 or BLAKE2b, got ${String(this.hash)}`, { option: 'hash' })
    }
    this.useIk = init.useIk ?? true
    this.knownPeersMax = checkLimit('knownPeersMax', init.knownPeersMax ?? 4096, 0)
    const resolved = resolveSessionLimits(init)
    this.sessionLimits = resolved
    this.staticKeyPair =
      init.staticKeyPair ??
      keyPairFromPrivate(this.provider, this.identity.deriveSecret('noise-static-x25519'))
  }

  /** Our Noise static public key (what peers remember for IK). */
  get staticPublicKey(): Uint8Array {
    return Uint8Array.from(this.staticKeyPair.publicKey)
  }

  /** Remembers a peer's Noise static key so the next dial to it uses IK. */
  rememberPeer(peer: NodeId, staticPublicKey: Uint8Array): void {
    if (this.knownPeersMax === 0) return
    this.knownStatics.delete(peer.hex)
    this.knownStatics.set(peer.hex, Uint8Array.from(staticPublicKey))
    if (this.knownStatics.size > this.knownPeersMax) {
      const oldest = this.knownStatics.keys().next()
      if (!oldest.done) this.knownStatics.delete(oldest.value)
    }
  }

  forgetPeer(peer: NodeId): void {
    this.knownStatics.delete(peer.hex)
  }

  knowsPeer(peer: NodeId): boolean {
    return this.knownStatics.has(peer.hex)
  }

  async upgrade(channel: HandshakeChannel, options: UpgradeOptions): Promise<NoiseSecureSession> {
    if (!options.localId.equals(this.identity.nodeId)) {
      throw new ConfigError('upgrade localId is not the identity this upgrader holds', {
        localId: options.localId.hex,
        identity: this.identity.nodeId.hex,
      })
    }
    const initiator = channel.direction === 'outbound'
    const expectedPeer = options.expectedPeer
    const knownStatic =
      initiator && this.useIk && expectedPeer ? this.knownStatics.get(expectedPeer.hex) : undefined
    const handshake = new SecureHandshake({
      initiator,
      provider: this.provider,
      signer: this.identity,
      verifier: this.verifier,
      staticKeyPair: this.staticKeyPair,
      hash: this.hash,
      sessionLimits: this.sessionLimits,
      ...(knownStatic ? { remoteStaticPublicKey: knownStatic } : {}),
      ...(expectedPeer ? { expectedPeer } : {}),
    })
    try {
      let step: HandshakeStep = initiator ? handshake.start() : { send: undefined, done: false }
      if (step.send) channel.send(step.send)
      while (!step.done) {
        options.signal.throwIfAborted()
        const frame = await channel.receive(options.signal)
        if (frame.length > HANDSHAKE_FRAME_BYTES_MAX) {
          throw new TransportError(
            'HANDSHAKE_FAILED',
            `handshake frame of ${frame.length} bytes`,
            { bytes: frame.length },
            {
              cause: new LimitExceededError(
                'handshakeFrameBytesMax',
                frame.length,
                HANDSHAKE_FRAME_BYTES_MAX,
              ),
            },
          )
        }
        step = handshake.receive(frame)
        if (step.send) channel.send(step.send)
      }
    } catch (error) {
      // An IK attempt that failed may mean the peer's static key changed; fall back to XX next time.
      if (knownStatic && expectedPeer) this.forgetPeer(expectedPeer)
      throw asTransportError(error, channel.remoteAddress)
    }
    const result = handshake.result
    this.rememberPeer(result.remotePeer, result.remoteStaticPublicKey)
    return new SealedSession(
      result.remotePeer,
      result.protocolName,
      result.handshakeHash,
      result.remoteIdentityKey,
      result.session,
    )
  }
}

function asTransportError(error: unknown, remoteAddress: string): TransportError {
  if (error instanceof TransportError) return error
  const name = error instanceof Error ? error.name : 'Error'
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new TransportError(
      'HANDSHAKE_TIMEOUT',
      'noise handshake aborted',
      { remoteAddress },
      { cause: error },
    )
  }
  return new TransportError('HANDSHAKE_FAILED', 'noise handshake failed', { remoteAddress }, { cause: error })
}
