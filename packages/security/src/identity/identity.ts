import { NodeId, assert, utf8Encode } from '@socketcloud/core'
import type { SignatureAlgorithm, Signer, Verifier } from '@socketcloud/core'
import { defaultCryptoProvider } from '../providers/index'
import type { CryptoProvider, Ed25519SigningKey } from '../providers/index'
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SEED_BYTES } from '../providers/index'

export const ED25519: SignatureAlgorithm = 'ed25519'

/** NodeId = SHA-256(ed25519 public key), the one derivation every node agrees on. */
export function nodeIdFromPublicKey(
  publicKey: Uint8Array,
  provider: CryptoProvider = defaultCryptoProvider(),
): NodeId {
  assert(publicKey.length === ED25519_PUBLIC_KEY_BYTES, 'ed25519 public key is 32 bytes')
  return NodeId.fromBytes(provider.hash('SHA256', publicKey))
}

/**
 * This node's ed25519 identity: the seed, its public key and the NodeId derived from it. Implements
 * core's `Signer`, so the assembly can hand it to consensus engines and the DHT. The seed never
 * leaves the object except through `exportSeed` (for the key file) and one-way derivations.
 */
export class Ed25519Identity implements Signer {
  readonly algorithm: SignatureAlgorithm = ED25519
  readonly publicKey: Uint8Array
  readonly nodeId: NodeId
  readonly provider: CryptoProvider
  private readonly seed: Uint8Array
  private readonly signingKey: Ed25519SigningKey

  private constructor(seed: Uint8Array, provider: CryptoProvider) {
    assert(seed.length === ED25519_SEED_BYTES, 'ed25519 seed is 32 bytes')
    this.seed = Uint8Array.from(seed)
    this.provider = provider
    this.signingKey = provider.ed25519SigningKey(this.seed)
    this.publicKey = this.signingKey.publicKey
    this.nodeId = nodeIdFromPublicKey(this.publicKey, provider)
  }

  static fromSeed(seed: Uint8Array, provider: CryptoProvider = defaultCryptoProvider()): Ed25519Identity {
    return new Ed25519Identity(seed, provider)
  }

  static generate(provider: CryptoProvider = defaultCryptoProvider()): Ed25519Identity {
    return new Ed25519Identity(provider.randomBytes(ED25519_SEED_BYTES), provider)
  }

  sign(message: Uint8Array): Uint8Array {
    return this.signingKey.sign(message)
  }

  /**
   * A 32-byte secret derived one-way from the seed for `label` (HMAC-SHA256). Used for the Noise
   * static key, so it survives restarts (which keeps IK usable) without a second key file.
   */
  deriveSecret(label: string): Uint8Array {
    return this.provider.hmac('SHA256', this.seed, utf8Encode(`socketcloud/derive/v1/${label}`))
  }

  /** The raw seed, for writing the key file. Handle with care. */
  exportSeed(): Uint8Array {
    return Uint8Array.from(this.seed)
  }
}

/** Core `Verifier` for ed25519 (RFC 8032 strict); false for every other algorithm and malformed input. */
export class Ed25519Verifier implements Verifier {
  constructor(private readonly provider: CryptoProvider = defaultCryptoProvider()) {}

  verify(
    algorithm: SignatureAlgorithm,
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
  ): boolean {
    if (algorithm !== ED25519) return false
    return this.provider.ed25519Verify(publicKey, message, signature)
  }
}
