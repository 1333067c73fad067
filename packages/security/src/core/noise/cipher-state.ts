import { assert } from '@socketcloud/core'
import type { CryptoProvider } from '../../providers/provider'
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES } from '../../providers/provider'
import { SecurityError } from '../../errors'

const EMPTY = new Uint8Array(0)
const ZEROS_32 = new Uint8Array(32)
/** Noise reserves nonce 2^64-1 for Rekey (section 11.3); our counters stop long before it. */
const REKEY_NONCE = (() => {
  const nonce = new Uint8Array(AEAD_NONCE_BYTES)
  nonce.fill(0xff, 4)
  return nonce
})()

/**
 * The largest nonce a CipherState will use. Counters are JavaScript numbers, exact up to 2^53 - 1,
 * which is far below Noise's 2^64 - 1; the limit makes exhaustion a typed error instead of a silent
 * wrap-around. Sessions choose a lower `nonceMax` to end earlier.
 */
export const NONCE_MAX = Number.MAX_SAFE_INTEGER - 1

/** ChaChaPoly nonce encoding (section 12.3): 32 zero bits, then the 64-bit counter little-endian. */
export function encodeNonce(counter: number, out: Uint8Array): Uint8Array {
  out.fill(0, 0, 4)
  const low = counter % 0x1_0000_0000
  const high = Math.floor(counter / 0x1_0000_0000)
  out[4] = low & 0xff
  out[5] = (low >>> 8) & 0xff
  out[6] = (low >>> 16) & 0xff
  out[7] = (low >>> 24) & 0xff
  out[8] = high & 0xff
  out[9] = (high >>> 8) & 0xff
  out[10] = (high >>> 16) & 0xff
  out[11] = (high >>> 24) & 0xff
  return out
}

/**
 * Noise CipherState (section 5.1): a key and a nonce counter. Before a key is set, encryption is the
 * identity function, exactly as the specification requires for the first handshake messages.
 * The counter only advances on success, so a failed decryption can be reported and the session ended.
 */
export class CipherState {
  private key: Uint8Array | undefined
  private counter = 0
  private readonly nonce = new Uint8Array(AEAD_NONCE_BYTES)

  constructor(
    private readonly provider: CryptoProvider,
    key?: Uint8Array,
    private readonly nonceMax = NONCE_MAX,
  ) {
    assert(Number.isSafeInteger(nonceMax) && nonceMax >= 0 && nonceMax <= NONCE_MAX, 'nonceMax in range')
    if (key) this.initializeKey(key)
  }

  initializeKey(key: Uint8Array): void {
    assert(key.length === AEAD_KEY_BYTES, 'cipher key is 32 bytes')
    this.key = Uint8Array.from(key)
    this.counter = 0
  }

  hasKey(): boolean {
    return this.key !== undefined
  }

  /** The next nonce to be used; equal to the number of messages processed with this state. */
  get nonceValue(): number {
    return this.counter
  }

  encryptWithAd(associatedData: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (!this.key) return Uint8Array.from(plaintext)
    this.checkNonce()
    const out = this.provider.aeadSeal(
      this.key,
      encodeNonce(this.counter, this.nonce),
      associatedData,
      plaintext,
    )
    this.counter++
    return out
  }

  /** Throws SecurityError('DECRYPT_FAILED') when the ciphertext does not authenticate. */
  decryptWithAd(associatedData: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (!this.key) return Uint8Array.from(ciphertext)
    this.checkNonce()
    const plaintext = this.provider.aeadOpen(
      this.key,
      encodeNonce(this.counter, this.nonce),
      associatedData,
      ciphertext,
    )
    if (plaintext === undefined) {
      throw new SecurityError('DECRYPT_FAILED', 'message failed authentication', {
        nonce: this.counter,
        bytes: ciphertext.length,
      })
    }
    this.counter++
    return plaintext
  }

  /** Section 11.3: k = first 32 bytes of ENCRYPT(k, 2^64-1, empty, zeros). The counter carries on. */
  rekey(): void {
    assert(this.key !== undefined, 'rekey needs a key')
    const next = this.provider.aeadSeal(this.key, REKEY_NONCE, EMPTY, ZEROS_32)
    this.key = next.subarray(0, AEAD_KEY_BYTES)
  }

  private checkNonce(): void {
    if (this.counter > this.nonceMax) {
      throw new SecurityError('NONCE_EXHAUSTED', 'nonce space exhausted; the session must end', {
        nonceMax: this.nonceMax,
      })
    }
  }
}
