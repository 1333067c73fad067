import { DecodeError, assert, checkLimit, utf8Encode } from '@socketcloud/core'
import type { SignatureAlgorithm, Signer, Verifier } from '@socketcloud/core'
import { SecurityError } from '../../errors'
import { ByteReader, ByteWriter } from '../binary'

/**
 * A payload signed for one purpose. The signature covers a fixed domain tag, the `context` string
 * (e.g. `consensus.vote`, `dht.record`), the signer's key and algorithm, the optional nonce and
 * timestamp, and the payload; so a signature made for one context never verifies under another, and
 * changing any field breaks it.
 */
export interface SignedEnvelope {
  readonly context: string
  readonly algorithm: SignatureAlgorithm
  readonly publicKey: Uint8Array
  /** Random bytes that make the envelope unique, for replay protection; absent when not needed. */
  readonly nonce: Uint8Array | undefined
  /** Wall-clock milliseconds at signing, for the replay window; absent when not needed. */
  readonly timestampMs: number | undefined
  readonly payload: Uint8Array
  readonly signature: Uint8Array
}

const DOMAIN_TAG = utf8Encode('SocketCloud signed envelope v1\0')
const ENCODING_VERSION = 1
const FLAG_NONCE = 1
const FLAG_TIMESTAMP = 2

export const ENVELOPE_LIMITS = Object.freeze({
  contextBytesMax: 128,
  algorithmBytesMax: 32,
  publicKeyBytesMax: 64,
  nonceBytesMax: 64,
  signatureBytesMax: 128,
  payloadBytesMax: 16 * 1024 * 1024,
})

export interface SignOptions {
  readonly nonce?: Uint8Array
  readonly timestampMs?: number
}

function signedBytes(fields: Omit<SignedEnvelope, 'signature'>): Uint8Array {
  const flags = (fields.nonce ? FLAG_NONCE : 0) | (fields.timestampMs !== undefined ? FLAG_TIMESTAMP : 0)
  const writer = new ByteWriter(fields.payload.length + 160)
    .raw(DOMAIN_TAG)
    .string(fields.context)
    .string(fields.algorithm)
    .bytes(fields.publicKey)
    .u8(flags)
  if (fields.nonce) writer.bytes(fields.nonce)
  if (fields.timestampMs !== undefined) writer.varuint(fields.timestampMs)
  return writer.bytes(fields.payload).finish()
}

function checkContext(context: string): void {
  assert(typeof context === 'string' && context.length > 0, 'envelope context is a non-empty string')
  assert(utf8Encode(context).length <= ENVELOPE_LIMITS.contextBytesMax, 'envelope context within its limit')
}

export function signEnvelope(
  signer: Signer,
  context: string,
  payload: Uint8Array,
  options: SignOptions = {},
): SignedEnvelope {
  checkContext(context)
  if (options.timestampMs !== undefined) checkLimit('timestampMs', options.timestampMs, 0)
  const fields = {
    context,
    algorithm: signer.algorithm,
    publicKey: Uint8Array.from(signer.publicKey),
    nonce: options.nonce && Uint8Array.from(options.nonce),
    timestampMs: options.timestampMs,
    payload: Uint8Array.from(payload),
  }
  return { ...fields, signature: signer.sign(signedBytes(fields)) }
}

/**
 * Checks the signature and that the envelope was made for `expectedContext`. Throws SecurityError
 * `WRONG_CONTEXT` or `BAD_SIGNATURE`; returns the envelope for chaining. Who signed it is the
 * caller's question: compare `publicKey` (or its NodeId) with whom you expected.
 */
export function verifyEnvelope(
  verifier: Verifier,
  envelope: SignedEnvelope,
  expectedContext: string,
): SignedEnvelope {
  if (envelope.context !== expectedContext) {
    throw new SecurityError(
      'WRONG_CONTEXT',
      `envelope was signed for "${envelope.context}", expected "${expectedContext}"`,
      {
        context: envelope.context,
        expectedContext,
      },
    )
  }
  if (!verifier.verify(envelope.algorithm, envelope.publicKey, signedBytes(envelope), envelope.signature)) {
    throw new SecurityError(
      'BAD_SIGNATURE',
      `envelope signature does not verify (context "${expectedContext}")`,
      {
        context: expectedContext,
        algorithm: envelope.algorithm,
      },
    )
  }
  return envelope
}

export function encodeEnvelope(envelope: SignedEnvelope): Uint8Array {
  const flags = (envelope.nonce ? FLAG_NONCE : 0) | (envelope.timestampMs !== undefined ? FLAG_TIMESTAMP : 0)
  const writer = new ByteWriter(envelope.payload.length + 256)
    .u8(ENCODING_VERSION)
    .string(envelope.context)
    .string(envelope.algorithm)
    .bytes(envelope.publicKey)
    .u8(flags)
  if (envelope.nonce) writer.bytes(envelope.nonce)
  if (envelope.timestampMs !== undefined) writer.varuint(envelope.timestampMs)
  return writer.bytes(envelope.payload).bytes(envelope.signature).finish()
}

/** Decodes untrusted bytes; throws DecodeError for anything malformed (the signature is not checked here). */
export function decodeEnvelope(bytes: Uint8Array): SignedEnvelope {
  const reader = new ByteReader(bytes, 'signed envelope')
  const version = reader.u8('version')
  if (version !== ENCODING_VERSION) {
    throw new DecodeError('UNSUPPORTED_VERSION', `signed envelope version ${version} is not supported`, {
      version,
    })
  }
  const context = reader.string('context', ENVELOPE_LIMITS.contextBytesMax)
  const algorithm = reader.string('algorithm', ENVELOPE_LIMITS.algorithmBytesMax)
  const publicKey = reader.bytes('publicKey', ENVELOPE_LIMITS.publicKeyBytesMax)
  const flags = reader.u8('flags')
  if ((flags & ~(FLAG_NONCE | FLAG_TIMESTAMP)) !== 0) {
    throw new DecodeError('INVALID_FIELD', `signed envelope has unknown flags ${flags}`, {
      field: 'flags',
      flags,
    })
  }
  const nonce = flags & FLAG_NONCE ? reader.bytes('nonce', ENVELOPE_LIMITS.nonceBytesMax) : undefined
  const timestampMs = flags & FLAG_TIMESTAMP ? reader.varuint('timestampMs') : undefined
  const payload = reader.bytes('payload', ENVELOPE_LIMITS.payloadBytesMax)
  const signature = reader.bytes('signature', ENVELOPE_LIMITS.signatureBytesMax)
  reader.end()
  return { context, algorithm, publicKey, nonce, timestampMs, payload, signature }
}
