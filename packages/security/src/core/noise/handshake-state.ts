import { LimitExceededError, assert, concatBytes } from '@socketcloud/core'
import type { CryptoProvider } from '../../providers/provider'
import { AEAD_TAG_BYTES, X25519_KEY_BYTES } from '../../providers/provider'
import { SecurityError } from '../../errors'
import type { CipherState } from './cipher-state'
import type { NoiseProtocol } from './protocol-name'
import { SymmetricState } from './symmetric-state'
import type { HandshakePattern, Token } from './patterns'

/** Noise's hard ceiling on any message, handshake or transport (section 3). */
export const NOISE_MESSAGE_BYTES_MAX = 65_535
const DH_BYTES = X25519_KEY_BYTES

export interface KeyPair {
  readonly publicKey: Uint8Array
  readonly privateKey: Uint8Array
}

/** Generates an X25519 key pair from the provider's secure randomness. */
export function generateKeyPair(provider: CryptoProvider): KeyPair {
  return provider.x25519GenerateKeyPair()
}

/** Builds a key pair from a known private key (test vectors, derived statics). */
export function keyPairFromPrivate(provider: CryptoProvider, privateKey: Uint8Array): KeyPair {
  return { privateKey: Uint8Array.from(privateKey), publicKey: provider.x25519PublicKey(privateKey) }
}

export interface HandshakeConfig {
  readonly protocol: NoiseProtocol
  readonly initiator: boolean
  readonly provider: CryptoProvider
  readonly prologue?: Uint8Array
  /** Our static key pair; required when the pattern sends or pre-shares our static key. */
  readonly staticKeyPair?: KeyPair
  /** A fixed ephemeral key pair, for test vectors only; otherwise one is generated when needed. */
  readonly ephemeralKeyPair?: KeyPair
  /** The peer's static public key when the pattern pre-shares it (IK, NK, XK, KK for the initiator). */
  readonly remoteStaticPublicKey?: Uint8Array
  /** Largest nonce the transport CipherStates will use before refusing (see CipherState). */
  readonly transportNonceMax?: number
}

/** What a finished handshake hands to the transport phase. */
export interface HandshakeResult {
  /** Encrypts what we send. */
  readonly send: CipherState
  /** Decrypts what we receive. */
  readonly receive: CipherState
  readonly handshakeHash: Uint8Array
  readonly remoteStaticPublicKey: Uint8Array | undefined
}

/**
 * Noise HandshakeState (section 5.3), generic over the pattern table. Pure and synchronous: it takes
 * and returns byte arrays, never touches I/O, and its only randomness is the provider's (for
 * ephemeral keys), which tests replace with fixed keys. Any failure is a typed SecurityError and
 * leaves the state unusable, because Noise gives no way to resume a handshake that failed.
 */
export class HandshakeState {
  private readonly symmetric: SymmetricState
  private readonly provider: CryptoProvider
  private readonly protocol: NoiseProtocol
  private readonly initiator: boolean
  private readonly staticKeyPair: KeyPair | undefined
  private ephemeralKeyPair: KeyPair | undefined
  private remoteStatic: Uint8Array | undefined
  private remoteEphemeral: Uint8Array | undefined
  private currentIndex = 0
  private failed = false
  private result: HandshakeResult | undefined
  private readonly transportNonceMax: number | undefined

  constructor(config: HandshakeConfig) {
    const { protocol, initiator, provider } = config
    this.provider = provider
    this.protocol = protocol
    this.initiator = initiator
    this.staticKeyPair = config.staticKeyPair
    this.ephemeralKeyPair = config.ephemeralKeyPair
    this.remoteStatic = config.remoteStaticPublicKey && Uint8Array.from(config.remoteStaticPublicKey)
    this.transportNonceMax = config.transportNonceMax
    this.symmetric = new SymmetricState(provider, protocol.hash, protocol.name)
    this.symmetric.mixHash(config.prologue ?? new Uint8Array(0))

    const pattern = protocol.pattern
    const ourPreMessage = initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage
    const theirPreMessage = initiator ? pattern.responderPreMessage : pattern.initiatorPreMessage
    for (const token of ourPreMessage) {
      assert(token === 's', 'pre-messages carry static keys only in the supported patterns')
      assert(this.staticKeyPair, `${protocol.name} needs our static key pair`)
    }
    for (const token of theirPreMessage) {
      assert(token === 's', 'pre-messages carry static keys only in the supported patterns')
      assert(this.remoteStatic?.length === DH_BYTES, `${protocol.name} needs the peer's static public key`)
    }
    // The initiator's pre-message is hashed first, whichever side we are (section 5.3, Initialize).
    const initiatorPre = pattern.initiatorPreMessage.length > 0
    const responderPre = pattern.responderPreMessage.length > 0
    if (initiatorPre) this.symmetric.mixHash(initiator ? this.staticKeyPair!.publicKey : this.remoteStatic!)
    if (responderPre) this.symmetric.mixHash(initiator ? this.remoteStatic! : this.staticKeyPair!.publicKey)
  }

  get protocolName(): string {
    return this.protocol.name
  }

  get pattern(): HandshakePattern {
    return this.protocol.pattern
  }

  /** Index of the next handshake message to write or read. */
  get messageIndex(): number {
    return this.currentIndex
  }

  get isInitiator(): boolean {
    return this.initiator
  }

  /** True when the next step is ours to write (and the handshake is not finished). */
  get isOurTurn(): boolean {
    return !this.isComplete && (this.currentIndex % 2 === 0) === this.initiator
  }

  get isComplete(): boolean {
    return this.result !== undefined
  }

  /** The peer's static public key, once the handshake has revealed (or pre-shared) it. */
  get remoteStaticPublicKey(): Uint8Array | undefined {
    return this.remoteStatic && Uint8Array.from(this.remoteStatic)
  }

  /** The transport keys; only after the last message. */
  get handshakeResult(): HandshakeResult {
    if (!this.result) throw new SecurityError('INVALID_STATE', 'handshake is not complete')
    return this.result
  }

  writeMessage(payload: Uint8Array): Uint8Array {
    this.checkTurn(true)
    try {
      const parts: Uint8Array[] = []
      for (const token of this.currentTokens()) {
        if (token === 'e') {
          this.ephemeralKeyPair ??= generateKeyPair(this.provider)
          parts.push(this.ephemeralKeyPair.publicKey)
          this.symmetric.mixHash(this.ephemeralKeyPair.publicKey)
        } else if (token === 's') {
          assert(this.staticKeyPair, `${this.protocol.name} needs our static key pair`)
          parts.push(this.symmetric.encryptAndHash(this.staticKeyPair.publicKey))
        } else {
          this.mixDh(token)
        }
      }
      parts.push(this.symmetric.encryptAndHash(payload))
      const message = concatBytes(parts)
      if (message.length > NOISE_MESSAGE_BYTES_MAX) {
        throw new LimitExceededError('noiseMessageBytesMax', message.length, NOISE_MESSAGE_BYTES_MAX)
      }
      this.advance()
      return message
    } catch (error) {
      this.failed = true
      throw error
    }
  }

  /** Returns the payload; throws SecurityError('HANDSHAKE_FAILED') for a malformed or forged message. */
  readMessage(message: Uint8Array): Uint8Array {
    this.checkTurn(false)
    try {
      if (message.length > NOISE_MESSAGE_BYTES_MAX) {
        throw this.refuse('message exceeds 65535 bytes', { bytes: message.length })
      }
      let offset = 0
      const take = (length: number, what: string): Uint8Array => {
        if (offset + length > message.length) {
          throw this.refuse(`message truncated reading ${what}`, {
            bytes: message.length,
            needed: offset + length,
          })
        }
        const slice = message.subarray(offset, offset + length)
        offset += length
        return slice
      }
      for (const token of this.currentTokens()) {
        if (token === 'e') {
          this.remoteEphemeral = Uint8Array.from(take(DH_BYTES, 'ephemeral key'))
          this.symmetric.mixHash(this.remoteEphemeral)
        } else if (token === 's') {
          const length = this.symmetric.cipher.hasKey() ? DH_BYTES + AEAD_TAG_BYTES : DH_BYTES
          this.remoteStatic = this.decrypt(take(length, 'static key'), 'static key')
        } else {
          this.mixDh(token)
        }
      }
      const payload = this.decrypt(message.subarray(offset), 'payload')
      this.advance()
      return payload
    } catch (error) {
      this.failed = true
      if (error instanceof SecurityError && error.code === 'HANDSHAKE_FAILED') throw error
      throw this.refuse('handshake message refused', {}, error)
    }
  }

  private decrypt(ciphertext: Uint8Array, what: string): Uint8Array {
    try {
      return this.symmetric.decryptAndHash(ciphertext)
    } catch (error) {
      throw this.refuse(`${what} failed authentication`, {}, error)
    }
  }

  private mixDh(token: Exclude<Token, 'e' | 's'>): void {
    // Section 5.3: for es the initiator uses (e, rs) and the responder (s, re); se mirrors it.
    const [local, remote] = (() => {
      switch (token) {
        case 'ee':
          return [this.ephemeralKeyPair, this.remoteEphemeral] as const
        case 'ss':
          return [this.staticKeyPair, this.remoteStatic] as const
        case 'es':
          return this.initiator
            ? ([this.ephemeralKeyPair, this.remoteStatic] as const)
            : ([this.staticKeyPair, this.remoteEphemeral] as const)
        case 'se':
          return this.initiator
            ? ([this.staticKeyPair, this.remoteEphemeral] as const)
            : ([this.ephemeralKeyPair, this.remoteStatic] as const)
      }
    })()
    if (!local || !remote) throw this.refuse(`token ${token} before its keys are known`)
    const shared = this.provider.x25519(local.privateKey, remote)
    // An all-zero secret means the peer sent a low-order point: refuse rather than derive a known key.
    if (!shared) throw this.refuse(`token ${token}: peer key is a low-order point`)
    this.symmetric.mixKey(shared)
  }

  private currentTokens(): readonly Token[] {
    const tokens = this.protocol.pattern.messages[this.currentIndex]
    assert(tokens, 'message index within pattern')
    return tokens
  }

  private advance(): void {
    this.currentIndex++
    if (this.currentIndex === this.protocol.pattern.messages.length) {
      const [initiatorToResponder, responderToInitiator] = this.symmetric.split(this.transportNonceMax)
      this.result = {
        send: this.initiator ? initiatorToResponder : responderToInitiator,
        receive: this.initiator ? responderToInitiator : initiatorToResponder,
        handshakeHash: this.symmetric.h,
        remoteStaticPublicKey: this.remoteStaticPublicKey,
      }
    }
  }

  private checkTurn(writing: boolean): void {
    if (this.failed) throw new SecurityError('INVALID_STATE', 'handshake already failed')
    if (this.isComplete) throw new SecurityError('INVALID_STATE', 'handshake already complete')
    if (this.isOurTurn !== writing) {
      throw new SecurityError('INVALID_STATE', writing ? 'not our turn to write' : 'not our turn to read', {
        messageIndex: this.currentIndex,
      })
    }
  }

  private refuse(why: string, context: Record<string, unknown> = {}, cause?: unknown): SecurityError {
    return new SecurityError(
      'HANDSHAKE_FAILED',
      `${this.protocol.name}: ${why}`,
      { protocol: this.protocol.name, messageIndex: this.currentIndex, ...context },
      cause === undefined ? undefined : { cause },
    )
  }
}
