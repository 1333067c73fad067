import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
} from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { CryptoProvider, Ed25519SigningKey, HashAlgorithm } from './provider'
import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SEED_BYTES,
  ED25519_SIGNATURE_BYTES,
  X25519_KEY_BYTES,
} from './provider'
import { assert } from '@socketcloud/core'
import { isAllZero, requireLength } from './bytes'

// OpenSSL takes a raw 25519 private key only inside an ASN.1 wrapper (JWK needs the public half
// too); this fixed DER prefix (RFC 8410) turns a 32-byte raw key into PKCS#8 without a parser.
// Public keys go in as JWK, which OpenSSL 3 imports several times faster than SPKI DER.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const SPKI_RAW_OFFSET = 12

/**
 * Parsing keys is OpenSSL's slow path (a PKCS#8 import costs more than the X25519 it enables), and
 * the same keys come back again and again (our static key, peers' identity keys), so parsed keys are
 * kept in small bounded caches, oldest evicted first.
 */
const VERIFY_KEY_CACHE_ENTRIES_MAX = 1024
const X25519_PRIVATE_CACHE_ENTRIES_MAX = 256

const HASH_NAMES: Readonly<Record<HashAlgorithm, string>> = { SHA256: 'sha256', BLAKE2b: 'blake2b512' }

function toPlain(buffer: Buffer): Uint8Array {
  // Small Buffers share a pooled ArrayBuffer; hand out an array that owns exactly its bytes.
  return new Uint8Array(buffer)
}

function privateKeyObject(prefix: Buffer, raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([prefix, raw]), format: 'der', type: 'pkcs8' })
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' })
  return toPlain(der.subarray(SPKI_RAW_OFFSET))
}

function base64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

/** JWK import is several times cheaper than SPKI DER in OpenSSL 3. */
function jwkPublicKey(curve: 'Ed25519' | 'X25519', raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: curve, x: base64Url(raw) }, format: 'jwk' })
}

class BoundedCache<V> {
  private readonly entries = new Map<string, V>()
  constructor(private readonly entriesMax: number) {}

  get(key: string): V | undefined {
    return this.entries.get(key)
  }

  set(key: string, value: V): void {
    if (this.entries.size >= this.entriesMax) {
      const oldest = this.entries.keys().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }
    this.entries.set(key, value)
  }
}

class VerifyKeyCache {
  private readonly keys = new BoundedCache<KeyObject | null>(VERIFY_KEY_CACHE_ENTRIES_MAX)

  get(publicKey: Uint8Array): KeyObject | null {
    const id = base64Url(publicKey)
    let key = this.keys.get(id)
    if (key === undefined) {
      try {
        key = jwkPublicKey('Ed25519', publicKey)
      } catch {
        // A point that does not decode can never verify; remember that too.
        key = null
      }
      this.keys.set(id, key)
    }
    return key
  }
}

interface ParsedX25519 {
  readonly privateKey: KeyObject
  readonly publicKey: Uint8Array
}

class X25519KeyCache {
  private readonly keys = new BoundedCache<ParsedX25519>(X25519_PRIVATE_CACHE_ENTRIES_MAX)

  get(privateKey: Uint8Array): ParsedX25519 {
    const id = base64Url(privateKey)
    let parsed = this.keys.get(id)
    if (!parsed) {
      const key = privateKeyObject(X25519_PKCS8_PREFIX, privateKey)
      parsed = { privateKey: key, publicKey: rawPublicKey(key) }
      this.keys.set(id, parsed)
    }
    return parsed
  }

  generate(): { privateKey: Uint8Array; publicKey: Uint8Array } {
    // DER straight out of the generation, never an export of the generated KeyObject: on Node 20 a
    // collection during such an export can finalize the generation job, which takes the same key
    // lock the export holds, and the process hangs (seen in the DHT's 10,000-identity test).
    const pair = generateKeyPairSync('x25519', {
      privateKeyEncoding: { format: 'der', type: 'pkcs8' },
      publicKeyEncoding: { format: 'der', type: 'spki' },
    })
    assert(
      pair.privateKey.length === X25519_PKCS8_PREFIX.length + 32 &&
        pair.privateKey.subarray(0, X25519_PKCS8_PREFIX.length).equals(X25519_PKCS8_PREFIX),
      'x25519 PKCS#8 DER is the fixed prefix and the 32-byte key',
    )
    const privateKey = toPlain(pair.privateKey.subarray(X25519_PKCS8_PREFIX.length))
    const publicKey = toPlain(pair.publicKey.subarray(SPKI_RAW_OFFSET))
    this.keys.set(base64Url(privateKey), {
      privateKey: privateKeyObject(X25519_PKCS8_PREFIX, privateKey),
      publicKey,
    })
    return { privateKey, publicKey: Uint8Array.from(publicKey) }
  }
}

/** `node:crypto` (OpenSSL). Available on Node 20+; the fastest provider by a wide margin. */
export function createNativeCryptoProvider(): CryptoProvider {
  const verifyKeys = new VerifyKeyCache()
  const x25519Keys = new X25519KeyCache()
  return {
    name: 'native',

    randomBytes(length) {
      return toPlain(randomBytes(length))
    },

    ed25519PublicKey(seed) {
      requireLength(seed, ED25519_SEED_BYTES, 'ed25519 seed')
      return rawPublicKey(privateKeyObject(ED25519_PKCS8_PREFIX, seed))
    },

    ed25519SigningKey(seed): Ed25519SigningKey {
      requireLength(seed, ED25519_SEED_BYTES, 'ed25519 seed')
      const key = privateKeyObject(ED25519_PKCS8_PREFIX, seed)
      const publicKey = rawPublicKey(key)
      return {
        publicKey,
        sign: (message) => toPlain(sign(null, message, key)),
      }
    },

    ed25519Verify(publicKey, message, signature) {
      if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false
      if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false
      if (!(message instanceof Uint8Array)) return false
      const key = verifyKeys.get(publicKey)
      if (key === null) return false
      try {
        return verify(null, message, key, signature)
      } catch {
        return false
      }
    },

    x25519GenerateKeyPair() {
      return x25519Keys.generate()
    },

    x25519PublicKey(privateKey) {
      requireLength(privateKey, X25519_KEY_BYTES, 'x25519 private key')
      return Uint8Array.from(x25519Keys.get(privateKey).publicKey)
    },

    x25519(privateKey, publicKey) {
      requireLength(privateKey, X25519_KEY_BYTES, 'x25519 private key')
      requireLength(publicKey, X25519_KEY_BYTES, 'x25519 public key')
      try {
        const shared = diffieHellman({
          privateKey: x25519Keys.get(privateKey).privateKey,
          publicKey: jwkPublicKey('X25519', publicKey),
        })
        return isAllZero(shared) ? undefined : toPlain(shared)
      } catch {
        // OpenSSL refuses exactly the case the contract reports as undefined: an all-zero secret
        // from a low-order point.
        return undefined
      }
    },

    aeadSeal(key, nonce, associatedData, plaintext) {
      requireLength(key, AEAD_KEY_BYTES, 'aead key')
      requireLength(nonce, AEAD_NONCE_BYTES, 'aead nonce')
      const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_BYTES })
      cipher.setAAD(associatedData, { plaintextLength: plaintext.length })
      const out = new Uint8Array(plaintext.length + AEAD_TAG_BYTES)
      const body = cipher.update(plaintext)
      out.set(body, 0)
      const tail = cipher.final()
      out.set(tail, body.length)
      out.set(cipher.getAuthTag(), plaintext.length)
      return out
    },

    aeadOpen(key, nonce, associatedData, ciphertext) {
      if (key.length !== AEAD_KEY_BYTES || nonce.length !== AEAD_NONCE_BYTES) return undefined
      if (ciphertext.length < AEAD_TAG_BYTES) return undefined
      const bodyLength = ciphertext.length - AEAD_TAG_BYTES
      try {
        const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_BYTES })
        decipher.setAuthTag(ciphertext.subarray(bodyLength))
        decipher.setAAD(associatedData, { plaintextLength: bodyLength })
        const out = new Uint8Array(bodyLength)
        const body = decipher.update(ciphertext.subarray(0, bodyLength))
        out.set(body, 0)
        out.set(decipher.final(), body.length)
        return out
      } catch {
        return undefined
      }
    },

    hash(algorithm, data) {
      return toPlain(createHash(HASH_NAMES[algorithm]).update(data).digest())
    },

    hmac(algorithm, key, data) {
      return toPlain(createHmac(HASH_NAMES[algorithm], key).update(data).digest())
    },
  }
}
