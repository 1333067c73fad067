import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
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
import { isAllZero, requireLength } from './bytes'

// OpenSSL takes raw 25519 keys only inside ASN.1 wrappers; these fixed DER prefixes (RFC 8410) turn
// a 32-byte raw key into PKCS#8 (private) or SubjectPublicKeyInfo (public) without a parser.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')
const SPKI_RAW_OFFSET = 12

/** Verifying the same peers' signatures over and over is the common case; parsed keys are kept. */
const VERIFY_KEY_CACHE_ENTRIES_MAX = 1024

const HASH_NAMES: Readonly<Record<HashAlgorithm, string>> = { SHA256: 'sha256', BLAKE2b: 'blake2b512' }

function toPlain(buffer: Buffer): Uint8Array {
  // Small Buffers share a pooled ArrayBuffer; hand out an array that owns exactly its bytes.
  return new Uint8Array(buffer)
}

function privateKeyObject(prefix: Buffer, raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([prefix, raw]), format: 'der', type: 'pkcs8' })
}

function publicKeyObject(prefix: Buffer, raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([prefix, raw]), format: 'der', type: 'spki' })
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' })
  return toPlain(der.subarray(SPKI_RAW_OFFSET))
}

class VerifyKeyCache {
  private readonly keys = new Map<string, KeyObject | null>()

  get(publicKey: Uint8Array): KeyObject | null {
    const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64')
    let key = this.keys.get(id)
    if (key === undefined) {
      try {
        key = publicKeyObject(ED25519_SPKI_PREFIX, publicKey)
      } catch {
        // A point that does not decode can never verify; remember that too.
        key = null
      }
      if (this.keys.size >= VERIFY_KEY_CACHE_ENTRIES_MAX) {
        const oldest = this.keys.keys().next()
        if (!oldest.done) this.keys.delete(oldest.value)
      }
      this.keys.set(id, key)
    }
    return key
  }
}

/** `node:crypto` (OpenSSL). Available on Node 20+; the fastest provider by a wide margin. */
export function createNativeCryptoProvider(): CryptoProvider {
  const verifyKeys = new VerifyKeyCache()
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

    x25519PublicKey(privateKey) {
      requireLength(privateKey, X25519_KEY_BYTES, 'x25519 private key')
      return rawPublicKey(privateKeyObject(X25519_PKCS8_PREFIX, privateKey))
    },

    x25519(privateKey, publicKey) {
      requireLength(privateKey, X25519_KEY_BYTES, 'x25519 private key')
      requireLength(publicKey, X25519_KEY_BYTES, 'x25519 public key')
      try {
        const shared = diffieHellman({
          privateKey: privateKeyObject(X25519_PKCS8_PREFIX, privateKey),
          publicKey: publicKeyObject(X25519_SPKI_PREFIX, publicKey),
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
