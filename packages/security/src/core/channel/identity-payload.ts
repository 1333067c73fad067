import { DecodeError, concatBytes, utf8Encode } from '@socketcloud/core'
import type { Signer } from '@socketcloud/core'
import { ByteReader, ByteWriter } from '../binary'

/**
 * What each side puts in its handshake payload: its identity key and a signature, by that identity
 * key, over its Noise static public key. Because the Noise handshake proves possession of the static
 * key, the pair proves possession of the identity key: the peer's NodeId is known for certain.
 */
export interface IdentityPayload {
  readonly algorithm: string
  readonly identityKey: Uint8Array
  readonly signature: Uint8Array
}

const STATIC_KEY_CONTEXT = utf8Encode('SocketCloud noise static key v1\0')
const PAYLOAD_VERSION = 1
const IDENTITY_PAYLOAD_BYTES_MAX = 512

/** The bytes an identity signs to vouch for a Noise static key. */
export function staticKeyStatement(noiseStaticPublicKey: Uint8Array): Uint8Array {
  return concatBytes([STATIC_KEY_CONTEXT, noiseStaticPublicKey])
}

export function createIdentityPayload(signer: Signer, noiseStaticPublicKey: Uint8Array): Uint8Array {
  return new ByteWriter(128)
    .u8(PAYLOAD_VERSION)
    .string(signer.algorithm)
    .bytes(signer.publicKey)
    .bytes(signer.sign(staticKeyStatement(noiseStaticPublicKey)))
    .finish()
}

export function decodeIdentityPayload(bytes: Uint8Array): IdentityPayload {
  if (bytes.length > IDENTITY_PAYLOAD_BYTES_MAX) {
    throw new DecodeError('OVERSIZED', `identity payload of ${bytes.length} bytes`, {
      max: IDENTITY_PAYLOAD_BYTES_MAX,
    })
  }
  const reader = new ByteReader(bytes, 'identity payload')
  const version = reader.u8('version')
  if (version !== PAYLOAD_VERSION) {
    throw new DecodeError('UNSUPPORTED_VERSION', `identity payload version ${version}`, { version })
  }
  const algorithm = reader.string('algorithm', 32)
  const identityKey = reader.bytes('identityKey', 64)
  const signature = reader.bytes('signature', 128)
  reader.end()
  return { algorithm, identityKey, signature }
}
