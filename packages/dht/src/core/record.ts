import { bytesEqual, bytesToHex } from '@socketcloud/core'
import type { Codec, SignatureAlgorithm, Signer, Verifier } from '@socketcloud/core'

/** Record keys live in the node id space so lookups can find the nodes closest to them. */
export const RECORD_KEY_BYTES = 32
/** Domain separation: a record signature can never be replayed as any other signed message. */
const RECORD_SIGNING_DOMAIN = 'socketcloud-dht-record/1'

/**
 * A value stored in the DHT. The owner is the key pair that signed it (`algorithm` + `publicKey`);
 * the signature covers the key, the owner, the sequence, the expiry and the value, so none of them can
 * be changed by the nodes that store and serve it.
 */
export interface DhtRecord {
  /** 32 bytes in the node id space (derive it, e.g., as SHA-256 of a name). */
  readonly key: Uint8Array
  readonly value: Uint8Array
  /** Grows with every new version from the owner; a lower or equal one never replaces a stored record. */
  readonly sequence: number
  /** Wall-clock milliseconds since the epoch after which nobody serves it. */
  readonly expiresAtMs: number
  readonly algorithm: SignatureAlgorithm
  readonly publicKey: Uint8Array
  readonly signature: Uint8Array
}

export type UnsignedRecord = Pick<DhtRecord, 'key' | 'value' | 'sequence' | 'expiresAtMs'>

/** The exact bytes a record's signature covers. */
export function recordSigningBytes(
  codec: Codec,
  record: UnsignedRecord & Pick<DhtRecord, 'algorithm' | 'publicKey'>,
): Uint8Array {
  return codec.encodeValue([
    RECORD_SIGNING_DOMAIN,
    record.algorithm,
    record.publicKey,
    record.key,
    record.sequence,
    record.expiresAtMs,
    record.value,
  ])
}

export function signRecord(codec: Codec, signer: Signer, unsigned: UnsignedRecord): DhtRecord {
  const owned = { ...unsigned, algorithm: signer.algorithm, publicKey: signer.publicKey }
  return { ...owned, signature: signer.sign(recordSigningBytes(codec, owned)) }
}

export function verifyRecord(codec: Codec, verifier: Verifier, record: DhtRecord): boolean {
  return verifier.verify(
    record.algorithm,
    record.publicKey,
    recordSigningBytes(codec, record),
    record.signature,
  )
}

export function sameOwner(a: DhtRecord, b: DhtRecord): boolean {
  return a.algorithm === b.algorithm && bytesEqual(a.publicKey, b.publicKey)
}

export function recordKeyHex(key: Uint8Array): string {
  return bytesToHex(key)
}

/** Why a record was not taken. */
export type RecordRefusal = 'NOT_OWNER' | 'STALE' | 'EXPIRED' | 'RECORDS_FULL'

/**
 * Whether `incoming` may replace `existing` (both already verified). Only the same owner replaces
 * a live record, and only with a higher sequence: a stale or conflicting same-sequence version never
 * wins. Re-storing the identical record is accepted, so republishing is idempotent.
 */
export function replacementVerdict(
  existing: DhtRecord,
  incoming: DhtRecord,
): 'replace' | 'same' | RecordRefusal {
  if (!sameOwner(existing, incoming)) return 'NOT_OWNER'
  if (incoming.sequence > existing.sequence) return 'replace'
  if (incoming.sequence === existing.sequence && bytesEqual(incoming.signature, existing.signature)) {
    return 'same'
  }
  return 'STALE'
}
