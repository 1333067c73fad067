import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { SignatureAlgorithm, Signer, Verifier } from '@socketcloud/core'

const ED25519_SPKI_HEADER_BYTES = 12

/**
 * Real ed25519 through node:crypto, for tests and examples of this package only. The node app
 * injects `@socketcloud/security`'s identity instead; the DHT sees both through core's Signer and
 * Verifier, so nothing here is specific to tests except where the key comes from.
 */
export class TestEd25519Signer implements Signer {
  readonly algorithm: SignatureAlgorithm = 'ed25519'
  readonly publicKey: Uint8Array
  private readonly privateKey: KeyObject

  constructor() {
    // DER straight out of the generation, never an export of the generated KeyObject: on Node 20 a
    // collection during such an export can finalize the generation job, which takes the same key
    // lock the export holds, and the process hangs (it did, now and then, in the 10,000-node test).
    const pair = generateKeyPairSync('ed25519', {
      privateKeyEncoding: { format: 'der', type: 'pkcs8' },
      publicKeyEncoding: { format: 'der', type: 'spki' },
    })
    this.privateKey = createPrivateKey({ key: pair.privateKey, format: 'der', type: 'pkcs8' })
    // An ed25519 SubjectPublicKeyInfo is a fixed 12-byte header and the 32-byte key.
    this.publicKey = new Uint8Array(pair.publicKey.subarray(ED25519_SPKI_HEADER_BYTES))
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.privateKey))
  }
}

export class TestEd25519Verifier implements Verifier {
  private readonly keys = new Map<string, KeyObject | undefined>()

  verify(
    algorithm: SignatureAlgorithm,
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
  ): boolean {
    if (algorithm !== 'ed25519' || publicKey.length !== 32 || signature.length !== 64) return false
    const hex = Buffer.from(publicKey).toString('hex')
    let key = this.keys.get(hex)
    if (!this.keys.has(hex)) {
      try {
        key = createPublicKey({
          key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
          format: 'jwk',
        })
      } catch {
        key = undefined
      }
      this.keys.set(hex, key)
    }
    if (!key) return false
    try {
      return verify(null, message, key, signature)
    } catch {
      return false
    }
  }
}
