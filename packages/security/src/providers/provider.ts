/**
 * The one seam through which every primitive reaches this package. Two implementations exist:
 * `nativeCryptoProvider` (node:crypto / OpenSSL, the default on Node, many times faster) and
 * `portableCryptoProvider` (@noble/*, pure JavaScript, for browsers and runtimes without a primitive).
 * Both pass the same RFC 8032 / RFC 7748 / RFC 8439 / Wycheproof vectors and cross-verify each other.
 *
 * Contract:
 * - Every method is synchronous, so pure protocol cores (the Noise handshake, token verification) can
 *   call it inside a step without awaiting.
 * - Inputs are never mutated and outputs are fresh arrays the caller owns.
 * - `ed25519Verify` and `aeadOpen` never throw on hostile input: they return false / undefined.
 * - `x25519` returns undefined instead of the all-zero secret a low-order public key produces (OpenSSL
 *   refuses to compute it at all); callers must refuse such a peer, as the Noise channel does.
 */
export interface CryptoProvider {
  readonly name: 'native' | 'portable' | (string & { readonly __brand?: 'CryptoProviderName' })

  /** Cryptographically secure random bytes. */
  randomBytes(length: number): Uint8Array

  /** Public key for a 32-byte ed25519 seed (RFC 8032 secret key). */
  ed25519PublicKey(seed: Uint8Array): Uint8Array
  /** A signing key bound to `seed`; reusing it avoids re-deriving key material on every signature. */
  ed25519SigningKey(seed: Uint8Array): Ed25519SigningKey
  /** RFC 8032 strict verification (canonical S and point encodings); false for any malformed input. */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean

  /** A fresh X25519 key pair (Noise ephemeral keys); native keeps the parsed key for the DH calls that follow. */
  x25519GenerateKeyPair(): { readonly privateKey: Uint8Array; readonly publicKey: Uint8Array }
  /** X25519 public key for a 32-byte private key (RFC 7748 clamping applied). */
  x25519PublicKey(privateKey: Uint8Array): Uint8Array
  /** X25519(privateKey, publicKey); the 32-byte shared secret, or undefined when it would be all zero. */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined

  /** ChaCha20-Poly1305 (RFC 8439) with a 12-byte nonce; returns ciphertext || 16-byte tag. */
  aeadSeal(key: Uint8Array, nonce: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array): Uint8Array
  /** Inverse of `aeadSeal`; undefined when the tag does not authenticate or the sizes are wrong. */
  aeadOpen(
    key: Uint8Array,
    nonce: Uint8Array,
    associatedData: Uint8Array,
    ciphertext: Uint8Array,
  ): Uint8Array | undefined

  hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array
  hmac(algorithm: HashAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array
}

/** SHA-256 (32-byte output) or BLAKE2b-512 (64-byte output), the two Noise hashes we support. */
export type HashAlgorithm = 'SHA256' | 'BLAKE2b'

export const HASH_OUTPUT_BYTES: Readonly<Record<HashAlgorithm, number>> = Object.freeze({
  SHA256: 32,
  BLAKE2b: 64,
})

export interface Ed25519SigningKey {
  readonly publicKey: Uint8Array
  sign(message: Uint8Array): Uint8Array
}

export const ED25519_SEED_BYTES = 32
export const ED25519_PUBLIC_KEY_BYTES = 32
export const ED25519_SIGNATURE_BYTES = 64
export const X25519_KEY_BYTES = 32
export const AEAD_KEY_BYTES = 32
export const AEAD_NONCE_BYTES = 12
export const AEAD_TAG_BYTES = 16
