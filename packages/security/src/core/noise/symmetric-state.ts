import { assert, concatBytes } from '@socketcloud/core'
import type { CryptoProvider, HashAlgorithm } from '../../providers/provider'
import { AEAD_KEY_BYTES, HASH_OUTPUT_BYTES } from '../../providers/provider'
import { CipherState } from './cipher-state'

const EMPTY = new Uint8Array(0)
const BYTE_1 = Uint8Array.of(1)
const BYTE_2 = Uint8Array.of(2)

/** HKDF as Noise defines it (section 4.3) on HMAC-HASH; returns two outputs of HASHLEN bytes. */
export function noiseHkdf(
  provider: CryptoProvider,
  hash: HashAlgorithm,
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
): [Uint8Array, Uint8Array] {
  const tempKey = provider.hmac(hash, chainingKey, inputKeyMaterial)
  const output1 = provider.hmac(hash, tempKey, BYTE_1)
  const output2 = provider.hmac(hash, tempKey, concatBytes([output1, BYTE_2]))
  return [output1, output2]
}

/** Noise SymmetricState (section 5.2): the chaining key, the handshake hash and a CipherState. */
export class SymmetricState {
  private chainingKey: Uint8Array
  private handshakeHash: Uint8Array
  readonly cipher: CipherState

  constructor(
    private readonly provider: CryptoProvider,
    private readonly hash: HashAlgorithm,
    protocolName: string,
  ) {
    const hashLength = HASH_OUTPUT_BYTES[hash]
    const name = new TextEncoder().encode(protocolName)
    if (name.length <= hashLength) {
      this.handshakeHash = new Uint8Array(hashLength)
      this.handshakeHash.set(name)
    } else {
      this.handshakeHash = provider.hash(hash, name)
    }
    this.chainingKey = Uint8Array.from(this.handshakeHash)
    this.cipher = new CipherState(provider)
  }

  get h(): Uint8Array {
    return Uint8Array.from(this.handshakeHash)
  }

  mixKey(inputKeyMaterial: Uint8Array): void {
    const [chainingKey, tempKey] = noiseHkdf(this.provider, this.hash, this.chainingKey, inputKeyMaterial)
    this.chainingKey = chainingKey
    this.cipher.initializeKey(tempKey.subarray(0, AEAD_KEY_BYTES))
  }

  mixHash(data: Uint8Array): void {
    this.handshakeHash = this.provider.hash(this.hash, concatBytes([this.handshakeHash, data]))
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipher.encryptWithAd(this.handshakeHash, plaintext)
    this.mixHash(ciphertext)
    return ciphertext
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipher.decryptWithAd(this.handshakeHash, ciphertext)
    this.mixHash(ciphertext)
    return plaintext
  }

  /** Two CipherStates: the first for initiator-to-responder traffic, the second for the reverse. */
  split(nonceMax?: number): [CipherState, CipherState] {
    const [key1, key2] = noiseHkdf(this.provider, this.hash, this.chainingKey, EMPTY)
    assert(key1.length >= AEAD_KEY_BYTES && key2.length >= AEAD_KEY_BYTES, 'hkdf output holds a key')
    return [
      new CipherState(this.provider, key1.subarray(0, AEAD_KEY_BYTES), nonceMax),
      new CipherState(this.provider, key2.subarray(0, AEAD_KEY_BYTES), nonceMax),
    ]
  }
}
