import * as ed from '@noble/ed25519'
import { x25519 } from '@noble/curves/ed25519.js'
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { blake2b } from '@noble/hashes/blake2.js'
import { hmac } from '@noble/hashes/hmac.js'
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

// @noble/ed25519 leaves the synchronous SHA-512 unset so it can stay dependency-free; we supply it.
ed.hashes.sha512 = sha512

const HASHES: Readonly<Record<HashAlgorithm, typeof sha256 | typeof blake2b>> = {
  SHA256: sha256,
  BLAKE2b: blake2b,
}

function secureRandom(length: number): Uint8Array {
  const out = new Uint8Array(length)
  // getRandomValues fills at most 65536 bytes per call.
  for (let offset = 0; offset < length; offset += 65_536) {
    globalThis.crypto.getRandomValues(out.subarray(offset, Math.min(length, offset + 65_536)))
  }
  return out
}

/** Pure JavaScript (@noble/*): works wherever WebCrypto's getRandomValues exists. */
export function createPortableCryptoProvider(): CryptoProvider {
  return {
    name: 'portable',

    randomBytes: secureRandom,

    ed25519PublicKey(seed) {
      requireLength(seed, ED25519_SEED_BYTES, 'ed25519 seed')
      return ed.getPublicKey(seed)
    },

    ed25519SigningKey(seed): Ed25519SigningKey {
      requireLength(seed, ED25519_SEED_BYTES, 'ed25519 seed')
      const secret = Uint8Array.from(seed)
      return { publicKey: ed.getPublicKey(secret), sign: (message) => ed.sign(message, secret) }
    },

    ed25519Verify(publicKey, message, signature) {
      if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false
      if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false
      if (!(message instanceof Uint8Array)) return false
      try {
        // zip215: false selects RFC 8032's strict decoding, matching OpenSSL and Wycheproof.
        return ed.verify(signature, message, publicKey, { zip215: false })
      } catch {
        return false
      }
    },

    x25519GenerateKeyPair() {
      const privateKey = secureRandom(X25519_KEY_BYTES)
      return { privateKey, publicKey: x25519.getPublicKey(privateKey) }
    },

    x25519PublicKey(privateKey) {
      requireLength(privateKey, X25519_KEY_BYTES, 'x25519 private key')
      return x25519.getPublicKey(privateKey)
    },

    x25519(privateKey, publicKey) {
      requireLength(privateKey, X25519_KEY_BYTES, 'x25519 private key')
      requireLength(publicKey, X25519_KEY_BYTES, 'x25519 public key')
      try {
        const shared = x25519.getSharedSecret(privateKey, publicKey)
        return isAllZero(shared) ? undefined : shared
      } catch {
        // noble refuses an all-zero shared secret (low-order point), the case reported as undefined.
        return undefined
      }
    },

    aeadSeal(key, nonce, associatedData, plaintext) {
      requireLength(key, AEAD_KEY_BYTES, 'aead key')
      requireLength(nonce, AEAD_NONCE_BYTES, 'aead nonce')
      return chacha20poly1305(key, nonce, associatedData).encrypt(plaintext)
    },

    aeadOpen(key, nonce, associatedData, ciphertext) {
      if (key.length !== AEAD_KEY_BYTES || nonce.length !== AEAD_NONCE_BYTES) return undefined
      if (ciphertext.length < AEAD_TAG_BYTES) return undefined
      try {
        return chacha20poly1305(key, nonce, associatedData).decrypt(ciphertext)
      } catch {
        return undefined
      }
    },

    hash(algorithm, data) {
      return HASHES[algorithm](data)
    },

    hmac(algorithm, key, data) {
      return hmac(HASHES[algorithm], key, data)
    },
  }
}
