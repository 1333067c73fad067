import { DEFAULT_LIMITS, LimitExceededError, TransportError, assert, checkLimit } from '@socketcloud/core'
import { AEAD_TAG_BYTES } from '../../providers/provider'
import { SecurityError } from '../../errors'
import { NONCE_MAX } from '../noise/cipher-state'
import type { CipherState } from '../noise/cipher-state'
import { NOISE_MESSAGE_BYTES_MAX } from '../noise/handshake-state'

/** Plaintext bytes one Noise transport message can carry. */
export const CHUNK_PLAINTEXT_BYTES_MAX = NOISE_MESSAGE_BYTES_MAX - AEAD_TAG_BYTES
const CHUNK_HEADER_BYTES = 2
const AD_MORE = Uint8Array.of(0)
const AD_FINAL = Uint8Array.of(1)

export interface NoiseSessionLimits {
  /**
   * Noise messages (chunks) after which each direction's key is replaced (Noise Rekey(), section
   * 11.3). Both sides count the same messages, so no signalling is needed.
   * @default 1048576
   */
  readonly rekeyIntervalMessages?: number
  /**
   * Noise messages per direction after which the session refuses to continue; `seal` throws
   * NONCE_EXHAUSTED and the connection must be re-established with a new handshake. Must be below
   * 2^53 - 1 (exact integer counters), itself far below Noise's 2^64 - 1.
   * @default 2^48
   */
  readonly sessionMessagesMax?: number
  /**
   * Largest message (plaintext) `seal` accepts, with the same meaning as a transport's
   * `frameBytesMax`: the sealed frame is larger by `sealOverheadBytes(message)` (18 bytes per 65519),
   * and `open` accepts frames up to `sealedFrameBytes(frameBytesMax)`.
   * @default DEFAULT_LIMITS.frameBytesMax (16 MiB)
   */
  readonly frameBytesMax?: number
}

export interface ResolvedSessionLimits {
  readonly rekeyIntervalMessages: number
  readonly sessionMessagesMax: number
  readonly frameBytesMax: number
}

export function resolveSessionLimits(limits: NoiseSessionLimits = {}): ResolvedSessionLimits {
  return {
    rekeyIntervalMessages: checkLimit('rekeyIntervalMessages', limits.rekeyIntervalMessages ?? 1 << 20, 1),
    sessionMessagesMax: checkLimit('sessionMessagesMax', limits.sessionMessagesMax ?? 2 ** 48, 1, NONCE_MAX),
    frameBytesMax: checkLimit('frameBytesMax', limits.frameBytesMax ?? DEFAULT_LIMITS.frameBytesMax, 0),
  }
}

/** Frame bytes needed to carry `plaintextBytes`. */
export function sealedFrameBytes(plaintextBytes: number): number {
  const chunks = Math.max(1, Math.ceil(plaintextBytes / CHUNK_PLAINTEXT_BYTES_MAX))
  return plaintextBytes + chunks * (CHUNK_HEADER_BYTES + AEAD_TAG_BYTES)
}

/** Bytes sealing adds to a message of `plaintextBytes`: a 2-byte length and a 16-byte tag per chunk. */
export function sealOverheadBytes(plaintextBytes: number): number {
  return sealedFrameBytes(plaintextBytes) - plaintextBytes
}

/**
 * The transport phase of a Noise session, framed for a stream transport. One application message
 * becomes one frame holding one or more Noise messages (each at most 65535 bytes):
 *
 *   frame = chunk+ ; chunk = u16be length || ChaCha20-Poly1305(k, n, ad, plaintext part)
 *
 * The associated data of a chunk is one byte, 1 for the last chunk of a frame and 0 otherwise, so
 * cutting a frame short, or splicing chunks of two frames together, fails authentication. The
 * nonce counters make reordered, dropped or replayed chunks fail too. After any failure the session
 * is dead: counters can no longer be trusted to agree.
 */
export class NoiseSession {
  private failure: Error | undefined
  readonly limits: ResolvedSessionLimits

  constructor(
    private readonly send: CipherState,
    private readonly receive: CipherState,
    limits: NoiseSessionLimits = {},
  ) {
    this.limits = resolveSessionLimits(limits)
    assert(send.hasKey() && receive.hasKey(), 'transport cipher states are keyed')
  }

  /** Largest plaintext `seal` accepts (`frameBytesMax`). */
  get plaintextBytesMax(): number {
    return this.limits.frameBytesMax
  }

  /** Messages sent and received so far (Noise messages, i.e. chunks). */
  get counters(): { readonly sent: number; readonly received: number } {
    return { sent: this.send.nonceValue, received: this.receive.nonceValue }
  }

  seal(plaintext: Uint8Array): Uint8Array {
    if (this.failure) throw this.failure
    if (plaintext.length > this.limits.frameBytesMax) {
      throw new LimitExceededError('frameBytesMax', plaintext.length, this.limits.frameBytesMax)
    }
    const frameBytes = sealedFrameBytes(plaintext.length)
    const chunkCount = Math.max(1, Math.ceil(plaintext.length / CHUNK_PLAINTEXT_BYTES_MAX))
    if (this.send.nonceValue + chunkCount > this.limits.sessionMessagesMax) {
      this.failure = new SecurityError(
        'NONCE_EXHAUSTED',
        'session message limit reached; reconnect for new keys',
        {
          sessionMessagesMax: this.limits.sessionMessagesMax,
        },
      )
      throw this.failure
    }
    const frame = new Uint8Array(frameBytes)
    let offset = 0
    for (let index = 0; index < chunkCount; index++) {
      const start = index * CHUNK_PLAINTEXT_BYTES_MAX
      const part = plaintext.subarray(start, Math.min(plaintext.length, start + CHUNK_PLAINTEXT_BYTES_MAX))
      const sealed = this.send.encryptWithAd(index === chunkCount - 1 ? AD_FINAL : AD_MORE, part)
      frame[offset] = sealed.length >>> 8
      frame[offset + 1] = sealed.length & 0xff
      frame.set(sealed, offset + CHUNK_HEADER_BYTES)
      offset += CHUNK_HEADER_BYTES + sealed.length
      this.maybeRekey(this.send)
    }
    assert(offset === frameBytes, 'sealed frame filled exactly')
    return frame
  }

  /** Throws TransportError('BAD_FRAME') for a malformed, tampered, replayed or truncated frame. */
  open(frame: Uint8Array): Uint8Array {
    if (this.failure) throw this.failure
    try {
      return this.openFrame(frame)
    } catch (error) {
      this.failure =
        error instanceof TransportError
          ? error
          : new TransportError(
              'BAD_FRAME',
              'encrypted frame refused',
              { bytes: frame.length },
              { cause: error },
            )
      throw this.failure
    }
  }

  private openFrame(frame: Uint8Array): Uint8Array {
    if (frame.length > sealedFrameBytes(this.limits.frameBytesMax)) {
      throw new TransportError('FRAME_TOO_LARGE', `encrypted frame of ${frame.length} bytes`, {
        bytes: frame.length,
        frameBytesMax: this.limits.frameBytesMax,
      })
    }
    const parts: Uint8Array[] = []
    let total = 0
    let offset = 0
    // The frame size check above bounds `total` by frameBytesMax plus less than one chunk.
    let final = false
    while (!final) {
      if (offset + CHUNK_HEADER_BYTES > frame.length) {
        throw new TransportError('BAD_FRAME', 'encrypted frame ends before its final chunk', {
          bytes: frame.length,
        })
      }
      const length = (frame[offset]! << 8) | frame[offset + 1]!
      const start = offset + CHUNK_HEADER_BYTES
      if (length < AEAD_TAG_BYTES || start + length > frame.length) {
        throw new TransportError('BAD_FRAME', 'encrypted chunk length out of bounds', {
          length,
          bytes: frame.length,
        })
      }
      if (this.receive.nonceValue >= this.limits.sessionMessagesMax) {
        throw new SecurityError('NONCE_EXHAUSTED', 'peer exceeded the session message limit', {
          sessionMessagesMax: this.limits.sessionMessagesMax,
        })
      }
      final = start + length === frame.length
      const part = this.receive.decryptWithAd(
        final ? AD_FINAL : AD_MORE,
        frame.subarray(start, start + length),
      )
      this.maybeRekey(this.receive)
      parts.push(part)
      total += part.length
      offset = start + length
    }
    if (parts.length === 1) return parts[0]!
    const out = new Uint8Array(total)
    let position = 0
    for (const part of parts) {
      out.set(part, position)
      position += part.length
    }
    return out
  }

  private maybeRekey(cipher: CipherState): void {
    if (cipher.nonceValue % this.limits.rekeyIntervalMessages === 0) cipher.rekey()
  }
}
