import { Packr } from 'msgpackr'
import { BytesInParts } from './bytes-in-parts'
import { DecodeError, LimitExceededError, assert, toError } from '../errors'
import { NODE_ID_BYTES, NodeId } from '../node-id'
import { DEFAULT_LIMITS } from '../limits'

/** Wire format version of the envelope. A peer speaking another version is refused, not guessed at. */
export const ENVELOPE_VERSION = 1

/** Message type names: `<protocol>.<kind>`, lower-case, e.g. `raft.append` or `fd.ping`. */
const MESSAGE_TYPE_PATTERN = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/
const MESSAGE_TYPE_LENGTH_MAX = 64

/** One message on the wire: who sent it, what it is, and its payload (validated by the protocol). */
export interface Envelope<Payload = unknown> {
  readonly version: number
  readonly type: string
  readonly sender: NodeId
  readonly payload: Payload
}

export interface CodecOptions {
  /** Largest encoded envelope accepted or produced, in bytes. @default 16 MiB */
  readonly envelopeBytesMax?: number
  /** Deepest nesting of arrays/maps in a payload; guards the decoder's stack. @default 64 */
  readonly nestingDepthMax?: number
}

/**
 * Encodes and decodes envelopes with msgpackr (records and structured-clone extensions off, so the
 * bytes are plain MessagePack any implementation can read). Every decode failure is a DecodeError
 * with a code and context; nothing untyped escapes. Implemented here; used by every driver at the
 * network boundary.
 */
export class Codec {
  readonly envelopeBytesMax: number
  readonly nestingDepthMax: number
  private readonly packr: Packr

  constructor(options: CodecOptions = {}) {
    this.envelopeBytesMax = options.envelopeBytesMax ?? DEFAULT_LIMITS.envelopeBytesMax
    this.nestingDepthMax = options.nestingDepthMax ?? DEFAULT_LIMITS.nestingDepthMax
    assert(
      Number.isInteger(this.envelopeBytesMax) && this.envelopeBytesMax > 0,
      'envelopeBytesMax must be a positive integer',
    )
    assert(
      Number.isInteger(this.nestingDepthMax) && this.nestingDepthMax > 0,
      'nestingDepthMax must be a positive integer',
    )
    this.packr = new Packr({
      useRecords: false,
      structuredClone: false,
      moreTypes: false,
      mapsAsObjects: true,
      variableMapSize: true,
      int64AsType: 'number',
      bundleStrings: false,
    })
  }

  /** Encodes any MessagePack-able value (no envelope). */
  encodeValue(value: unknown): Uint8Array {
    return this.packr.pack(value)
  }

  /**
   * The bytes `encodeValue(value)` gives, as pieces: each byte string of at least `largeBytesMin`
   * bytes inside (nested) arrays is referenced rather than copied, and a `BytesInParts` inside them
   * is encoded as the byte string it joins to. For wrapping large payloads (snapshots), where the
   * general encoder costs several times a copy; everything else goes through the general encoder,
   * so the joined result is identical.
   */
  encodeToParts(value: unknown, largeBytesMin = 64 * 1024): BytesInParts {
    const parts: Uint8Array[] = []
    this.collectParts(value, largeBytesMin, parts, 0)
    return new BytesInParts(parts)
  }

  private collectParts(value: unknown, largeBytesMin: number, parts: Uint8Array[], depth: number): void {
    if (value instanceof BytesInParts) {
      parts.push(binHeader(value.length), ...value.parts)
    } else if (value instanceof Uint8Array && value.length >= largeBytesMin) {
      parts.push(binHeader(value.length), value)
    } else if (
      Array.isArray(value) &&
      depth < LARGE_BYTES_DEPTH_MAX &&
      holdsLargeBytes(value, largeBytesMin, depth)
    ) {
      parts.push(lengthHeader(value.length, 0x90, 16, 0xdc, 0xdd))
      for (const element of value) this.collectParts(element, largeBytesMin, parts, depth + 1)
    } else {
      // Copied out at once: the encoder may reuse its buffer for the next value.
      parts.push(new Uint8Array(this.packr.pack(value)))
    }
  }

  /** Decodes one MessagePack value occupying all of `bytes`; throws DecodeError. */
  decodeValue(bytes: Uint8Array): unknown {
    if (!(bytes instanceof Uint8Array)) throw new DecodeError('MALFORMED', 'input is not a byte array')
    if (bytes.length === 0) throw new DecodeError('TRUNCATED', 'empty input')
    if (bytes.length > this.envelopeBytesMax) {
      throw new DecodeError('OVERSIZED', `input of ${bytes.length} bytes exceeds ${this.envelopeBytesMax}`, {
        bytes: bytes.length,
        max: this.envelopeBytesMax,
      })
    }
    let value: unknown
    try {
      value = this.packr.unpack(bytes)
    } catch (thrown) {
      // msgpackr's messages depend on its internal state from earlier calls, so the same bytes can
      // produce different texts; the message here is stable and the original stays in `cause`.
      const error = toError(thrown)
      const truncated = /unexpected end|end of buffer|out of range|beyond/i.test(error.message)
      throw new DecodeError(
        truncated ? 'TRUNCATED' : 'MALFORMED',
        truncated ? 'invalid MessagePack: input ends early' : 'invalid MessagePack',
        { bytes: bytes.length },
        { cause: error },
      )
    }
    checkPlainValue(value, this.nestingDepthMax)
    return value
  }

  encode<Payload>(envelope: Omit<Envelope<Payload>, 'version'> & { version?: number }): Uint8Array {
    assert(
      MESSAGE_TYPE_PATTERN.test(envelope.type),
      `message type '${envelope.type}' is not <protocol>.<kind>`,
    )
    const bytes = this.packr.pack([
      envelope.version ?? ENVELOPE_VERSION,
      envelope.type,
      envelope.sender.bytes,
      envelope.payload,
    ])
    if (bytes.length > this.envelopeBytesMax) {
      throw new LimitExceededError('envelopeBytesMax', bytes.length, this.envelopeBytesMax, {
        type: envelope.type,
      })
    }
    return bytes
  }

  /** Decodes and validates the envelope shape; the payload is left for the protocol to validate. */
  decode(bytes: Uint8Array): Envelope<unknown> {
    const value = this.decodeValue(bytes)
    if (!Array.isArray(value) || value.length !== 4) {
      throw new DecodeError('MALFORMED', 'envelope must be a 4-element array', {
        kind: Array.isArray(value) ? `array(${value.length})` : typeof value,
      })
    }
    const [version, type, sender, payload] = value as [unknown, unknown, unknown, unknown]
    if (version !== ENVELOPE_VERSION) {
      throw new DecodeError(
        'UNSUPPORTED_VERSION',
        `envelope version ${String(version)} is not ${ENVELOPE_VERSION}`,
        {
          version: typeof version === 'number' ? version : String(version),
          supported: ENVELOPE_VERSION,
        },
      )
    }
    if (
      typeof type !== 'string' ||
      type.length > MESSAGE_TYPE_LENGTH_MAX ||
      !MESSAGE_TYPE_PATTERN.test(type)
    ) {
      throw new DecodeError('INVALID_FIELD', 'envelope type must be <protocol>.<kind>', { field: 'type' })
    }
    if (!(sender instanceof Uint8Array) || sender.length !== NODE_ID_BYTES) {
      throw new DecodeError('INVALID_FIELD', `envelope sender must be ${NODE_ID_BYTES} bytes`, {
        field: 'sender',
        type,
      })
    }
    return { version, type, sender: NodeId.fromBytes(sender), payload }
  }
}

/**
 * Rejects values MessagePack can carry but our protocols never send: extension types (which msgpackr
 * would turn into Dates or arbitrary objects), integers beyond 2^53, and nesting deep enough to
 * exhaust a recursive reader. Leaves (numbers, strings, booleans, null, byte arrays) are checked
 * inline rather than by a call each, which keeps the walk cheap for payloads with many fields.
 */
function checkPlainValue(value: unknown, depthMax: number, depth = 0): void {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) {
    if (typeof value === 'bigint') throw bigIntegerError()
    return
  }
  if (depth >= depthMax) throw new DecodeError('MALFORMED', `nesting deeper than ${depthMax}`, { depthMax })
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      if (typeof item === 'object' ? item !== null : typeof item === 'bigint') {
        checkPlainValue(item, depthMax, depth + 1)
      }
    }
    return
  }
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== Object.prototype && prototype !== null) {
    throw new DecodeError(
      'MALFORMED',
      `unsupported MessagePack extension (${prototype?.constructor?.name ?? 'unknown'})`,
    )
  }
  for (const key in value) {
    if (key === '__proto__') throw new DecodeError('MALFORMED', 'map key __proto__ is not accepted')
    const item: unknown = (value as Record<string, unknown>)[key]
    if (typeof item === 'object' ? item !== null : typeof item === 'bigint') {
      checkPlainValue(item, depthMax, depth + 1)
    }
  }
}

function bigIntegerError(): DecodeError {
  return new DecodeError('INVALID_FIELD', 'integers beyond 2^53 are not accepted')
}

/** Arrays deeper than this are left to the general encoder. */
const LARGE_BYTES_DEPTH_MAX = 8

/**
 * Whether `array` holds, at any depth `collectParts` descends to, a byte string of `min` bytes or more
 * or a `BytesInParts`.
 */
function holdsLargeBytes(array: readonly unknown[], min: number, depth: number): boolean {
  for (const element of array) {
    if (element instanceof BytesInParts) return true
    if (element instanceof Uint8Array) {
      if (element.length >= min) return true
    } else if (
      Array.isArray(element) &&
      depth + 1 < LARGE_BYTES_DEPTH_MAX &&
      holdsLargeBytes(element, min, depth + 1)
    ) {
      return true
    }
  }
  return false
}

/** A MessagePack bin header for `length` bytes. */
function binHeader(length: number): Uint8Array {
  return length < 0x100 ? Uint8Array.of(0xc4, length) : lengthHeader(length, 0, 0, 0xc5, 0xc6)
}

/**
 * A MessagePack length header: `fixBase | length` below `fixLimit` (when there is a fix form), else
 * `marker16` and 16 bits, else `marker32` and 32 bits, big-endian.
 */
function lengthHeader(
  length: number,
  fixBase: number,
  fixLimit: number,
  marker16: number,
  marker32: number,
): Uint8Array {
  if (length < fixLimit) return Uint8Array.of(fixBase | length)
  if (length <= 0xffff) return Uint8Array.of(marker16, length >>> 8, length & 0xff)
  return Uint8Array.of(marker32, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff)
}
