import { LimitExceededError, NodeId, bytesToHex, checkLimit } from '@socketcloud/core'
import type { Signer, Verifier } from '@socketcloud/core'
import type { CryptoProvider } from '../../providers/provider'
import { SecurityError } from '../../errors'
import { patternCovers, patternMatches } from './pattern'
import {
  approvalSignedBytes,
  capabilityId,
  capabilityIdFromSignedBytes,
  signCapability,
  tokenSignedBytes,
  TOKEN_LIMITS,
} from './token'
import type { CapabilityClaims, CapabilityToken, QuorumRequirement } from './token'

/** Why a capability was refused. Each names one rule; `depth` says which link (1 = root) broke it. */
export type CapabilityRefusal =
  | 'CHAIN_TOO_DEEP'
  | 'UNTRUSTED_ROOT'
  | 'BAD_SIGNATURE'
  | 'BROKEN_CHAIN'
  | 'ESCALATION'
  | 'REVOKED'
  | 'TOO_FEW_APPROVALS'
  | 'NOT_YET_VALID'
  | 'EXPIRED'
  | 'WRONG_AUDIENCE'
  | 'NOT_GRANTED'

export interface CapabilityGrant {
  readonly ok: true
  /** The trusted root at the top of the chain. */
  readonly root: Uint8Array
  readonly holder: NodeId
  readonly resource: string
  readonly abilities: readonly string[]
  /** Every caveat along the chain; the application must enforce them. */
  readonly caveats: Readonly<Record<string, string>>
  readonly notBeforeMs: number
  readonly expiresMs: number
  /** Tokens in the chain, root included. */
  readonly chainLength: number
}

export interface CapabilityDenial {
  readonly ok: false
  readonly reason: CapabilityRefusal
  readonly message: string
  /** Position in the chain of the token that broke the rule (1 = root). */
  readonly depth: number
}

export type CapabilityVerification = CapabilityGrant | CapabilityDenial

/** Revoked token ids (see `capabilityId`), bounded. Verification refuses any chain that contains one. */
export class RevocationSet {
  readonly entriesMax: number
  private readonly revoked = new Set<string>()

  constructor(init: { entriesMax?: number } = {}) {
    this.entriesMax = checkLimit('entriesMax', init.entriesMax ?? 100_000, 1)
  }

  /** Throws LimitExceededError when full: silently dropping a revocation would re-grant a capability. */
  revoke(tokenId: Uint8Array | string): void {
    const id = typeof tokenId === 'string' ? tokenId.toLowerCase() : bytesToHex(tokenId)
    if (this.revoked.has(id)) return
    if (this.revoked.size >= this.entriesMax) {
      throw new LimitExceededError('entriesMax', this.revoked.size + 1, this.entriesMax)
    }
    this.revoked.add(id)
  }

  has(tokenId: Uint8Array | string): boolean {
    return this.revoked.has(typeof tokenId === 'string' ? tokenId.toLowerCase() : bytesToHex(tokenId))
  }

  get size(): number {
    return this.revoked.size
  }
}

export interface VerifyCapabilityOptions {
  readonly provider: CryptoProvider
  readonly verifier: Verifier
  /** ed25519 public keys allowed to issue root tokens. */
  readonly trustedRoots: readonly Uint8Array[]
  /** The node presenting the token; must be the leaf's audience. */
  readonly holder: NodeId
  /** Wall-clock milliseconds. */
  readonly nowMs: number
  readonly revocations?: RevocationSet
  /** Tokens allowed in a chain, root included. @default 10 */
  readonly chainDepthMax?: number
  /** When given, the token must grant `ability` on `resource`. */
  readonly request?: { readonly resource: string; readonly ability: string }
}

function deny(reason: CapabilityRefusal, message: string, depth: number): CapabilityDenial {
  return { ok: false, reason, message, depth }
}

function approvalsSatisfy(
  quorum: QuorumRequirement,
  token: CapabilityToken,
  tokenId: Uint8Array,
  verifier: Verifier,
): boolean {
  const authorities = new Set(quorum.authorities.map(bytesToHex))
  const approved = new Set<string>()
  const message = approvalSignedBytes(tokenId)
  for (const approval of token.approvals) {
    const key = bytesToHex(approval.authority)
    if (!authorities.has(key) || approved.has(key)) continue
    if (verifier.verify('ed25519', approval.authority, message, approval.signature)) approved.add(key)
  }
  return approved.size >= quorum.threshold
}

/** The rule a delegation obeys: never more resource, abilities or time, and every parent caveat kept. */
export function attenuationViolation(parent: CapabilityClaims, child: CapabilityClaims): string | undefined {
  if (!patternCovers(parent.resource, child.resource)) {
    return `resource "${child.resource}" is not within "${parent.resource}"`
  }
  for (const ability of child.abilities) {
    if (!parent.abilities.some((granted) => patternCovers(granted, ability))) {
      return `ability "${ability}" is not granted by the parent`
    }
  }
  if (child.notBeforeMs < parent.notBeforeMs) return 'notBeforeMs is earlier than the parent’s'
  if (child.expiresMs > parent.expiresMs) return 'expiresMs is later than the parent’s'
  for (const [key, value] of Object.entries(parent.caveats)) {
    if (child.caveats[key] !== value) return `caveat "${key}" of the parent is missing or changed`
  }
  return undefined
}

/**
 * Walks the chain from the trusted root to the leaf and returns a typed grant or the first rule
 * broken. Pure: time comes in as `nowMs`, primitives through the provider and verifier. Never
 * throws on a hostile token (decode it with `decodeCapability` first, which throws DecodeError).
 */
export function verifyCapability(
  token: CapabilityToken,
  options: VerifyCapabilityOptions,
): CapabilityVerification {
  const { provider, verifier, nowMs } = options
  const chainDepthMax = checkLimit(
    'chainDepthMax',
    options.chainDepthMax ?? 10,
    1,
    TOKEN_LIMITS.decodeChainDepthMax,
  )
  const chain: CapabilityToken[] = []
  for (let link: CapabilityToken | undefined = token; link; link = link.proof) {
    if (chain.length >= chainDepthMax) {
      return deny('CHAIN_TOO_DEEP', `chain is longer than chainDepthMax ${chainDepthMax}`, chain.length + 1)
    }
    chain.unshift(link)
  }
  const trusted = new Set(options.trustedRoots.map(bytesToHex))
  const root = chain[0]!
  if (!trusted.has(bytesToHex(root.issuer)))
    return deny('UNTRUSTED_ROOT', 'root issuer is not a trusted root', 1)

  // Structure first (signatures, links, attenuation), then standing (revocation, approvals), then
  // time: a forged or escalated chain is reported as such even when it has also expired.
  const ids: Uint8Array[] = []
  for (const [index, link] of chain.entries()) {
    const depth = index + 1
    const parent = index > 0 ? chain[index - 1]! : undefined
    const signedBytes = tokenSignedBytes(link, provider, ids[index - 1])
    if (!verifier.verify(link.algorithm, link.issuer, signedBytes, link.signature)) {
      return deny('BAD_SIGNATURE', 'issuer signature does not verify', depth)
    }
    ids.push(capabilityIdFromSignedBytes(signedBytes, link.signature, provider))
    if (parent) {
      if (
        link.issuer.length !== 32 ||
        !NodeId.fromBytes(provider.hash('SHA256', link.issuer)).equals(parent.audience)
      ) {
        return deny('BROKEN_CHAIN', 'delegation was not issued by the parent’s audience', depth)
      }
      const violation = attenuationViolation(parent, link)
      if (violation) return deny('ESCALATION', violation, depth)
    }
  }
  for (const [index, link] of chain.entries()) {
    const depth = index + 1
    const id = ids[index]!
    if (options.revocations?.has(id))
      return deny('REVOKED', `token ${bytesToHex(id).slice(0, 16)} is revoked`, depth)
    if (link.quorum && !approvalsSatisfy(link.quorum, link, id, verifier)) {
      return deny(
        'TOO_FEW_APPROVALS',
        `needs approvals from ${link.quorum.threshold} of ${link.quorum.authorities.length} authorities`,
        depth,
      )
    }
  }
  const caveats: Record<string, string> = {}
  for (const [index, link] of chain.entries()) {
    const depth = index + 1
    if (nowMs < link.notBeforeMs) return deny('NOT_YET_VALID', `valid from ${link.notBeforeMs}`, depth)
    if (nowMs >= link.expiresMs) return deny('EXPIRED', `expired at ${link.expiresMs}`, depth)
    for (const [key, value] of Object.entries(link.caveats))
      Object.defineProperty(caveats, key, { value, enumerable: true, writable: true, configurable: true })
  }
  const leaf = chain[chain.length - 1]!
  if (!leaf.audience.equals(options.holder)) {
    return deny(
      'WRONG_AUDIENCE',
      `token is for ${leaf.audience.toShortString()}, presented by ${options.holder.toShortString()}`,
      chain.length,
    )
  }
  if (options.request) {
    const { resource, ability } = options.request
    if (
      !patternMatches(leaf.resource, resource) ||
      !leaf.abilities.some((granted) => patternMatches(granted, ability))
    ) {
      return deny('NOT_GRANTED', `token does not grant "${ability}" on "${resource}"`, chain.length)
    }
  }
  return {
    ok: true,
    root: root.issuer,
    holder: leaf.audience,
    resource: leaf.resource,
    abilities: leaf.abilities,
    caveats,
    notBeforeMs: leaf.notBeforeMs,
    expiresMs: leaf.expiresMs,
    chainLength: chain.length,
  }
}

export interface IssueOptions {
  readonly provider: CryptoProvider
  /** 16 random bytes; drawn from the provider when absent. */
  readonly nonce?: Uint8Array
}

/** Issues a root capability (the signer must be one of the verifiers' trusted roots). */
export function issueCapability(
  signer: Signer,
  claims: CapabilityClaims,
  options: IssueOptions,
): CapabilityToken {
  return signCapability(
    signer,
    claims,
    undefined,
    options.nonce ?? options.provider.randomBytes(TOKEN_LIMITS.nonceBytes),
    options.provider,
  )
}

/**
 * Delegates `parent` to a new audience with equal or narrower claims. The signer must be the
 * parent's audience. Throws SecurityError('CAPABILITY_ESCALATION') for a wider delegation or a
 * signer that is not the parent's audience; a verifier would refuse such a token anyway.
 */
export function delegateCapability(
  signer: Signer,
  parent: CapabilityToken,
  claims: CapabilityClaims,
  options: IssueOptions,
): CapabilityToken {
  const signerId = NodeId.fromBytes(options.provider.hash('SHA256', signer.publicKey))
  if (!signerId.equals(parent.audience)) {
    throw new SecurityError('CAPABILITY_ESCALATION', 'only the parent’s audience may delegate it', {
      signer: signerId.hex,
      audience: parent.audience.hex,
    })
  }
  const violation = attenuationViolation(parent, claims)
  if (violation) {
    throw new SecurityError('CAPABILITY_ESCALATION', `delegation would escalate: ${violation}`, {})
  }
  return signCapability(
    signer,
    claims,
    parent,
    options.nonce ?? options.provider.randomBytes(TOKEN_LIMITS.nonceBytes),
    options.provider,
  )
}

/** Adds `authority`'s approval to a quorum token (approvals do not change the token's id). */
export function approveCapability(
  authority: Signer,
  token: CapabilityToken,
  provider: CryptoProvider,
): CapabilityToken {
  const signature = authority.sign(approvalSignedBytes(capabilityId(token, provider)))
  const others = token.approvals.filter(
    (approval) => bytesToHex(approval.authority) !== bytesToHex(authority.publicKey),
  )
  return { ...token, approvals: [...others, { authority: Uint8Array.from(authority.publicKey), signature }] }
}
