import {
  DecodeError,
  NodeId,
  assert,
  bytesToHex,
  checkLimit,
  concatBytes,
  utf8Encode,
} from '@socketcloud/core'
import type { SignatureAlgorithm, Signer } from '@socketcloud/core'
import type { CryptoProvider } from '../../providers/provider'
import { ByteReader, ByteWriter } from '../binary'
import { base64UrlDecode, base64UrlEncode } from '../base64url'
import { isValidPattern } from './pattern'

/** An m-of-n requirement: the token is valid only with approvals from `threshold` of `authorities`. */
export interface QuorumRequirement {
  readonly threshold: number
  /** ed25519 public keys of the authorities, distinct. */
  readonly authorities: readonly Uint8Array[]
}

/** What a capability grants, to whom, for how long. Everything here is covered by the issuer's signature. */
export interface CapabilityClaims {
  /** The holder: the node that may use (or further delegate) this capability. */
  readonly audience: NodeId
  /** Resource pattern: exact, or a prefix ending in a single `*`. */
  readonly resource: string
  /** Ability patterns (e.g. `kv/read`, `kv/*`), same syntax as `resource`. */
  readonly abilities: readonly string[]
  /** Conditions the application enforces (e.g. `region=eu`); a delegation keeps every parent caveat. */
  readonly caveats: Readonly<Record<string, string>>
  /** Wall-clock milliseconds (Unix epoch) before which the token is not valid. */
  readonly notBeforeMs: number
  /** Wall-clock milliseconds after which the token is expired. */
  readonly expiresMs: number
  readonly quorum: QuorumRequirement | undefined
}

export interface CapabilityApproval {
  readonly authority: Uint8Array
  readonly signature: Uint8Array
}

/**
 * A signed capability. `proof` is the parent this one was delegated from (undefined for a root
 * token, which must be issued by a trusted root). The issuer's signature covers the claims, the
 * nonce and the parent's id, so a token can be neither edited nor moved onto another parent.
 */
export interface CapabilityToken extends CapabilityClaims {
  readonly algorithm: SignatureAlgorithm
  /** The issuer's ed25519 public key. For a delegation it must hash to the parent's audience. */
  readonly issuer: Uint8Array
  readonly nonce: Uint8Array
  readonly proof: CapabilityToken | undefined
  readonly signature: Uint8Array
  readonly approvals: readonly CapabilityApproval[]
}

export const TOKEN_LIMITS = Object.freeze({
  /** Tokens nested in one encoding; verification applies its own, usually smaller, `chainDepthMax`. */
  decodeChainDepthMax: 32,
  tokenBytesMax: 64 * 1024,
  resourceBytesMax: 512,
  abilitiesMax: 32,
  abilityBytesMax: 128,
  caveatsMax: 32,
  caveatBytesMax: 512,
  authoritiesMax: 32,
  nonceBytes: 16,
})

const SIGNATURE_DOMAIN = utf8Encode('SocketCloud capability v1\0')
const APPROVAL_DOMAIN = utf8Encode('SocketCloud capability approval v1\0')
const ENCODING_VERSION = 1
const PRINTABLE_PREFIX = 'sct1.'
const NO_PARENT = new Uint8Array(32)

function sortedCaveats(caveats: Readonly<Record<string, string>>): [string, string][] {
  return Object.keys(caveats)
    .sort()
    .map((key) => [key, caveats[key]!])
}

function writeClaims(
  writer: ByteWriter,
  token: Omit<CapabilityToken, 'signature' | 'approvals' | 'proof'>,
): void {
  writer.string(token.algorithm).bytes(token.issuer).raw(token.audience.bytes).string(token.resource)
  writer.varuint(token.abilities.length)
  for (const ability of token.abilities) writer.string(ability)
  const caveats = sortedCaveats(token.caveats)
  writer.varuint(caveats.length)
  for (const [key, value] of caveats) writer.string(key).string(value)
  writer.varuint(token.notBeforeMs).varuint(token.expiresMs).bytes(token.nonce)
  if (token.quorum) {
    writer.u8(1).varuint(token.quorum.threshold).varuint(token.quorum.authorities.length)
    for (const authority of token.quorum.authorities) writer.bytes(authority)
  } else {
    writer.u8(0)
  }
}

/**
 * The bytes the issuer signs: domain tag, claims, nonce and the parent's id. `parentId` may be
 * passed when already known (verification walks the chain root first and reuses each id), which
 * keeps a chain of n tokens at n hashes instead of n^2.
 */
export function tokenSignedBytes(
  token: Omit<CapabilityToken, 'signature' | 'approvals'>,
  provider: CryptoProvider,
  parentId?: Uint8Array,
): Uint8Array {
  const writer = new ByteWriter(256).raw(SIGNATURE_DOMAIN)
  writeClaims(writer, token)
  writer.raw(token.proof ? (parentId ?? capabilityId(token.proof, provider)) : NO_PARENT)
  return writer.finish()
}

/** `capabilityId` from already-computed signed bytes. */
export function capabilityIdFromSignedBytes(
  signedBytes: Uint8Array,
  signature: Uint8Array,
  provider: CryptoProvider,
): Uint8Array {
  return provider.hash('SHA256', concatBytes([signedBytes, signature]))
}

/**
 * The token's id: SHA-256 of its signed bytes and signature (approvals excluded, so approving
 * does not change it). Revocation sets and approvals refer to tokens by this id.
 */
export function capabilityId(token: CapabilityToken, provider: CryptoProvider): Uint8Array {
  return capabilityIdFromSignedBytes(tokenSignedBytes(token, provider), token.signature, provider)
}

export function capabilityIdHex(token: CapabilityToken, provider: CryptoProvider): string {
  return bytesToHex(capabilityId(token, provider))
}

/** The bytes an authority signs to approve a quorum token. */
export function approvalSignedBytes(tokenId: Uint8Array): Uint8Array {
  return concatBytes([APPROVAL_DOMAIN, tokenId])
}

/** Checks the claims a signer is about to put its name to; a malformed claim is a caller bug. */
export function checkClaims(claims: CapabilityClaims): void {
  assert(isValidPattern(claims.resource), `resource pattern "${claims.resource}" is exact or ends in one *`)
  assert(utf8Encode(claims.resource).length <= TOKEN_LIMITS.resourceBytesMax, 'resource within its limit')
  assert(
    claims.abilities.length > 0 && claims.abilities.length <= TOKEN_LIMITS.abilitiesMax,
    'abilities count',
  )
  for (const ability of claims.abilities) {
    assert(isValidPattern(ability), `ability pattern "${ability}" is exact or ends in one *`)
    assert(utf8Encode(ability).length <= TOKEN_LIMITS.abilityBytesMax, 'ability within its limit')
  }
  assert(new Set(claims.abilities).size === claims.abilities.length, 'abilities are distinct')
  assert(Object.keys(claims.caveats).length <= TOKEN_LIMITS.caveatsMax, 'caveat count within its limit')
  checkLimit('notBeforeMs', claims.notBeforeMs, 0)
  checkLimit('expiresMs', claims.expiresMs, claims.notBeforeMs + 1)
  if (claims.quorum) {
    const { threshold, authorities } = claims.quorum
    assert(authorities.length > 0 && authorities.length <= TOKEN_LIMITS.authoritiesMax, 'authority count')
    assert(Number.isInteger(threshold) && threshold >= 1 && threshold <= authorities.length, '1 <= m <= n')
    assert(new Set(authorities.map(bytesToHex)).size === authorities.length, 'authorities are distinct')
  }
}

/** Signs claims into a token. `proof` is the parent for a delegation. No attenuation check here. */
export function signCapability(
  signer: Signer,
  claims: CapabilityClaims,
  proof: CapabilityToken | undefined,
  nonce: Uint8Array,
  provider: CryptoProvider,
): CapabilityToken {
  checkClaims(claims)
  assert(nonce.length === TOKEN_LIMITS.nonceBytes, 'token nonce is 16 bytes')
  const unsigned = {
    ...claims,
    abilities: [...claims.abilities],
    caveats: Object.fromEntries(sortedCaveats(claims.caveats)),
    algorithm: signer.algorithm,
    issuer: Uint8Array.from(signer.publicKey),
    nonce: Uint8Array.from(nonce),
    proof,
  }
  const signature = signer.sign(tokenSignedBytes(unsigned, provider))
  return { ...unsigned, signature, approvals: [] }
}

function writeToken(writer: ByteWriter, token: CapabilityToken): void {
  writeClaims(writer, token)
  writer.bytes(token.signature).varuint(token.approvals.length)
  for (const approval of token.approvals) writer.bytes(approval.authority).bytes(approval.signature)
  if (token.proof) {
    writer.u8(1)
    writeToken(writer, token.proof)
  } else {
    writer.u8(0)
  }
}

/** Compact binary form. */
export function encodeCapability(token: CapabilityToken): Uint8Array {
  const writer = new ByteWriter(512).u8(ENCODING_VERSION)
  writeToken(writer, token)
  return writer.finish()
}

function readPattern(reader: ByteReader, field: string, bytesMax: number): string {
  const pattern = reader.string(field, bytesMax)
  if (!isValidPattern(pattern)) {
    throw new DecodeError(
      'INVALID_FIELD',
      `capability: ${field} "${pattern.slice(0, 40)}" is not a valid pattern`,
      {
        field,
      },
    )
  }
  return pattern
}

function readToken(reader: ByteReader, depth: number): CapabilityToken {
  if (depth > TOKEN_LIMITS.decodeChainDepthMax) {
    throw new DecodeError('OVERSIZED', `capability chain deeper than ${TOKEN_LIMITS.decodeChainDepthMax}`, {
      max: TOKEN_LIMITS.decodeChainDepthMax,
    })
  }
  const algorithm = reader.string('algorithm', 32)
  const issuer = reader.bytes('issuer', 64)
  const audience = NodeId.fromBytes(reader.raw(32, 'audience'))
  const resource = readPattern(reader, 'resource', TOKEN_LIMITS.resourceBytesMax)
  const abilityCount = reader.varuint('abilities', TOKEN_LIMITS.abilitiesMax)
  if (abilityCount === 0)
    throw new DecodeError('INVALID_FIELD', 'capability: no abilities', { field: 'abilities' })
  const abilities: string[] = []
  for (let i = 0; i < abilityCount; i++)
    abilities.push(readPattern(reader, 'ability', TOKEN_LIMITS.abilityBytesMax))
  if (new Set(abilities).size !== abilities.length) {
    throw new DecodeError('INVALID_FIELD', 'capability: duplicate ability', { field: 'abilities' })
  }
  const caveatCount = reader.varuint('caveats', TOKEN_LIMITS.caveatsMax)
  const caveats: Record<string, string> = {}
  let previousKey: string | undefined
  for (let i = 0; i < caveatCount; i++) {
    const key = reader.string('caveat key', TOKEN_LIMITS.caveatBytesMax)
    // Sorted, distinct keys: one claim set has exactly one encoding.
    if (previousKey !== undefined && key <= previousKey) {
      throw new DecodeError('INVALID_FIELD', 'capability: caveat keys not sorted or not distinct', {
        field: 'caveats',
      })
    }
    previousKey = key
    Object.defineProperty(caveats, key, {
      value: reader.string('caveat value', TOKEN_LIMITS.caveatBytesMax),
      enumerable: true,
    })
  }
  const notBeforeMs = reader.varuint('notBeforeMs')
  const expiresMs = reader.varuint('expiresMs')
  if (expiresMs <= notBeforeMs) {
    throw new DecodeError('INVALID_FIELD', 'capability: expiresMs must be after notBeforeMs', {
      field: 'expiresMs',
    })
  }
  const nonce = reader.fixedBytes(TOKEN_LIMITS.nonceBytes, 'nonce')
  let quorum: QuorumRequirement | undefined
  const hasQuorum = reader.u8('quorum flag')
  if (hasQuorum > 1)
    throw new DecodeError('INVALID_FIELD', 'capability: bad quorum flag', { field: 'quorum' })
  if (hasQuorum === 1) {
    const threshold = reader.varuint('quorum threshold', TOKEN_LIMITS.authoritiesMax)
    const count = reader.varuint('quorum authorities', TOKEN_LIMITS.authoritiesMax)
    const authorities: Uint8Array[] = []
    for (let i = 0; i < count; i++) authorities.push(reader.bytes('authority', 64))
    if (threshold < 1 || threshold > count || new Set(authorities.map(bytesToHex)).size !== count) {
      throw new DecodeError('INVALID_FIELD', 'capability: quorum needs 1 <= m <= n distinct authorities', {
        field: 'quorum',
      })
    }
    quorum = { threshold, authorities }
  }
  const signature = reader.bytes('signature', 128)
  const approvalCount = reader.varuint('approvals', TOKEN_LIMITS.authoritiesMax)
  const approvals: CapabilityApproval[] = []
  for (let i = 0; i < approvalCount; i++) {
    approvals.push({
      authority: reader.bytes('approval authority', 64),
      signature: reader.bytes('approval signature', 128),
    })
  }
  const hasProof = reader.u8('proof flag')
  if (hasProof > 1) throw new DecodeError('INVALID_FIELD', 'capability: bad proof flag', { field: 'proof' })
  const proof = hasProof === 1 ? readToken(reader, depth + 1) : undefined
  return {
    algorithm,
    issuer,
    audience,
    resource,
    abilities,
    caveats,
    notBeforeMs,
    expiresMs,
    nonce,
    quorum,
    signature,
    approvals,
    proof,
  }
}

/** Decodes untrusted bytes; throws DecodeError. Signatures are checked by `verifyCapability`, not here. */
export function decodeCapability(bytes: Uint8Array): CapabilityToken {
  if (bytes.length > TOKEN_LIMITS.tokenBytesMax) {
    throw new DecodeError(
      'OVERSIZED',
      `capability of ${bytes.length} bytes exceeds ${TOKEN_LIMITS.tokenBytesMax}`,
      {
        max: TOKEN_LIMITS.tokenBytesMax,
      },
    )
  }
  const reader = new ByteReader(bytes, 'capability')
  const version = reader.u8('version')
  if (version !== ENCODING_VERSION) {
    throw new DecodeError('UNSUPPORTED_VERSION', `capability encoding version ${version}`, { version })
  }
  const token = readToken(reader, 1)
  reader.end()
  return token
}

/** Printable form for HTTP headers: `sct1.` + base64url of the binary form. */
export function formatCapability(token: CapabilityToken): string {
  return PRINTABLE_PREFIX + base64UrlEncode(encodeCapability(token))
}

export function parseCapability(text: string): CapabilityToken {
  if (typeof text !== 'string' || !text.startsWith(PRINTABLE_PREFIX)) {
    throw new DecodeError('MALFORMED', `capability text must start with "${PRINTABLE_PREFIX}"`)
  }
  if (text.length > PRINTABLE_PREFIX.length + Math.ceil((TOKEN_LIMITS.tokenBytesMax * 4) / 3)) {
    throw new DecodeError('OVERSIZED', 'capability text too long', { max: TOKEN_LIMITS.tokenBytesMax })
  }
  return decodeCapability(base64UrlDecode(text.slice(PRINTABLE_PREFIX.length), 'capability'))
}
