import { bytesEqual, bytesToHex, hexToBytes } from './bytes'
import { DecodeError } from './errors'

export const NODE_ID_BYTES = 32
/** Hex characters shown by the short printable form, as libp2p and git do for ids. */
const SHORT_HEX_CHARS = 12

/**
 * The 32-byte identity of a node. Whoever owns identities (`@socketcloud/security`) derives it from
 * the node's public key (SHA-256 of the ed25519 public key); every other package only compares,
 * prints and transports it. Immutable; `hex` is the canonical map key.
 */
export class NodeId {
  readonly bytes: Uint8Array
  // Computed on first use: most ids decoded from the wire are only compared, and building the hex
  // of every inbound message's sender was a large share of a busy replica's garbage.
  #hex: string | undefined

  private constructor(bytes: Uint8Array, hex?: string) {
    this.bytes = bytes
    this.#hex = hex
  }

  /** Lower-case hex of the 32 bytes: the canonical map key. */
  get hex(): string {
    this.#hex ??= bytesToHex(this.bytes)
    return this.#hex
  }

  /** Copies `bytes`; throws DecodeError unless exactly 32 bytes. */
  static fromBytes(bytes: Uint8Array): NodeId {
    if (!(bytes instanceof Uint8Array) || bytes.length !== NODE_ID_BYTES) {
      throw new DecodeError('INVALID_FIELD', `NodeId must be ${NODE_ID_BYTES} bytes`, {
        length: bytes instanceof Uint8Array ? bytes.length : typeof bytes,
      })
    }
    return new NodeId(Uint8Array.from(bytes))
  }

  /** Parses 64 hex characters; throws DecodeError otherwise. */
  static fromHex(hex: string): NodeId {
    const bytes = typeof hex === 'string' && hex.length === NODE_ID_BYTES * 2 ? hexToBytes(hex) : undefined
    if (!bytes)
      throw new DecodeError('INVALID_FIELD', 'NodeId hex must be 64 hex characters', {
        hex: String(hex).slice(0, 80),
      })
    return new NodeId(bytes, hex.toLowerCase())
  }

  equals(other: NodeId): boolean {
    return this === other || bytesEqual(this.bytes, other.bytes)
  }

  /** Short printable form for logs, e.g. `3f2a9c1e07b4`. Not unique enough to identify a node. */
  toShortString(): string {
    return this.hex.slice(0, SHORT_HEX_CHARS)
  }

  toString(): string {
    return this.hex
  }

  toJSON(): string {
    return this.hex
  }
}
