// Goal: capability tokens grant exactly what their chain allows, refuse every broken rule with the
// reason named, survive encoding unchanged, and a delegation can never grant more than its parent.
// Method: build chains with real ed25519 identities and check each refusal reason; fast-check drives
// random claims through encode/decode and through delegation + verification.
import type { NodeId } from '@socketcloud/core'
import { DecodeError } from '@socketcloud/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createNativeCryptoProvider } from '../../providers/index'
import { Ed25519Identity, Ed25519Verifier } from '../../identity/identity'
import {
  RevocationSet,
  approveCapability,
  attenuationViolation,
  capabilityId,
  decodeCapability,
  delegateCapability,
  encodeCapability,
  formatCapability,
  issueCapability,
  parseCapability,
  patternMatches,
  signCapability,
  verifyCapability,
} from './index'
import type { CapabilityClaims, CapabilityToken, VerifyCapabilityOptions } from './index'

const provider = createNativeCryptoProvider()
const verifier = new Ed25519Verifier(provider)
const root = Ed25519Identity.fromSeed(new Uint8Array(32).fill(1), provider)
const alice = Ed25519Identity.fromSeed(new Uint8Array(32).fill(2), provider)
const bob = Ed25519Identity.fromSeed(new Uint8Array(32).fill(3), provider)
const carol = Ed25519Identity.fromSeed(new Uint8Array(32).fill(4), provider)
const NOW = 1_800_000_000_000
const HOUR = 3_600_000

function claims(audience: NodeId, overrides: Partial<CapabilityClaims> = {}): CapabilityClaims {
  return {
    audience,
    resource: 'kv/*',
    abilities: ['kv/read', 'kv/write'],
    caveats: {},
    notBeforeMs: NOW - HOUR,
    expiresMs: NOW + HOUR,
    quorum: undefined,
    ...overrides,
  }
}

function options(holder: NodeId, overrides: Partial<VerifyCapabilityOptions> = {}): VerifyCapabilityOptions {
  return { provider, verifier, trustedRoots: [root.publicKey], holder, nowMs: NOW, ...overrides }
}

/** root -> alice -> bob, each link narrower. */
function chain(): { toAlice: CapabilityToken; toBob: CapabilityToken } {
  const toAlice = issueCapability(root, claims(alice.nodeId), { provider })
  const toBob = delegateCapability(
    alice,
    toAlice,
    claims(bob.nodeId, { resource: 'kv/users/*', abilities: ['kv/read'], caveats: { region: 'eu' } }),
    { provider },
  )
  return { toAlice, toBob }
}

describe('capability verification', () => {
  it('grants a root token and a delegated chain, with the narrowed claims', () => {
    const { toAlice, toBob } = chain()
    expect(verifyCapability(toAlice, options(alice.nodeId))).toMatchObject({ ok: true, chainLength: 1 })
    const grant = verifyCapability(
      toBob,
      options(bob.nodeId, { request: { resource: 'kv/users/7', ability: 'kv/read' } }),
    )
    expect(grant).toMatchObject({
      ok: true,
      resource: 'kv/users/*',
      abilities: ['kv/read'],
      caveats: { region: 'eu' },
      chainLength: 2,
    })
  })

  it('names each refusal', () => {
    const { toAlice, toBob } = chain()
    const reason = (token: CapabilityToken, opts: VerifyCapabilityOptions) => {
      const result = verifyCapability(token, opts)
      return result.ok ? 'OK' : result.reason
    }
    expect(reason(toBob, options(bob.nodeId, { nowMs: NOW + 2 * HOUR }))).toBe('EXPIRED')
    expect(reason(toBob, options(bob.nodeId, { nowMs: NOW - 2 * HOUR }))).toBe('NOT_YET_VALID')
    expect(reason(toBob, options(carol.nodeId))).toBe('WRONG_AUDIENCE')
    expect(reason(toBob, options(bob.nodeId, { trustedRoots: [carol.publicKey] }))).toBe('UNTRUSTED_ROOT')
    expect(
      reason(toBob, options(bob.nodeId, { request: { resource: 'kv/users/7', ability: 'kv/write' } })),
    ).toBe('NOT_GRANTED')
    expect(
      reason(toBob, options(bob.nodeId, { request: { resource: 'kv/admin', ability: 'kv/read' } })),
    ).toBe('NOT_GRANTED')

    const revocations = new RevocationSet()
    revocations.revoke(capabilityId(toAlice, provider))
    expect(reason(toBob, options(bob.nodeId, { revocations }))).toBe('REVOKED')

    // Edited after signing: the signature no longer covers the claims.
    const widened = { ...toBob, resource: 'kv/*' }
    expect(reason(widened, options(bob.nodeId))).toBe('BAD_SIGNATURE')

    // Issued by someone who does not hold the parent.
    const stolen = signCapability(
      carol,
      claims(bob.nodeId, { resource: 'kv/users/*' }),
      toAlice,
      new Uint8Array(16),
      provider,
    )
    expect(reason(stolen, options(bob.nodeId))).toBe('BROKEN_CHAIN')

    // Re-attached to another parent: the parent id is under the signature.
    const otherParent = issueCapability(root, claims(alice.nodeId), { provider })
    expect(reason({ ...toBob, proof: otherParent }, options(bob.nodeId))).toBe('BAD_SIGNATURE')

    expect(reason(toBob, options(bob.nodeId, { chainDepthMax: 1 }))).toBe('CHAIN_TOO_DEEP')
  })

  it('refuses every kind of escalated delegation, at the link that escalates', () => {
    const { toAlice } = chain()
    const escalations: Partial<CapabilityClaims>[] = [
      { resource: '*' },
      { resource: 'blob/x' },
      { abilities: ['kv/read', 'kv/admin'] },
      { abilities: ['*'] },
      { expiresMs: NOW + 2 * HOUR },
      { notBeforeMs: NOW - 2 * HOUR },
    ]
    for (const escalation of escalations) {
      const wider = claims(bob.nodeId, escalation)
      expect(() => delegateCapability(alice, toAlice, wider, { provider })).toThrow(
        expect.objectContaining({ code: 'CAPABILITY_ESCALATION' }),
      )
      const forced = signCapability(alice, wider, toAlice, new Uint8Array(16), provider)
      expect(verifyCapability(forced, options(bob.nodeId))).toMatchObject({
        ok: false,
        reason: 'ESCALATION',
        depth: 2,
      })
    }
    // Dropping a parent's caveat is an escalation too.
    const toBob = delegateCapability(alice, toAlice, claims(bob.nodeId, { caveats: { region: 'eu' } }), {
      provider,
    })
    const dropped = signCapability(bob, claims(carol.nodeId), toBob, new Uint8Array(16), provider)
    expect(verifyCapability(dropped, options(carol.nodeId))).toMatchObject({
      ok: false,
      reason: 'ESCALATION',
      depth: 3,
    })
    expect(() => delegateCapability(carol, toAlice, claims(bob.nodeId), { provider })).toThrow(
      expect.objectContaining({ code: 'CAPABILITY_ESCALATION' }),
    )
  })

  it('requires m of n distinct authority approvals for a quorum token', () => {
    const authorities = [alice, bob, carol]
    const quorum = { threshold: 2, authorities: authorities.map((authority) => authority.publicKey) }
    const token = issueCapability(
      root,
      claims(alice.nodeId, { abilities: ['cluster/reconfigure'], quorum }),
      { provider },
    )
    const reason = (candidate: CapabilityToken) => {
      const result = verifyCapability(candidate, options(alice.nodeId))
      return result.ok ? 'OK' : result.reason
    }
    expect(reason(token)).toBe('TOO_FEW_APPROVALS')
    const once = approveCapability(bob, token, provider)
    expect(reason(once)).toBe('TOO_FEW_APPROVALS')
    // The same authority twice, or an outsider, does not make two.
    expect(reason({ ...once, approvals: [...once.approvals, ...once.approvals] })).toBe('TOO_FEW_APPROVALS')
    expect(reason(approveCapability(root, once, provider))).toBe('TOO_FEW_APPROVALS')
    // A forged approval does not count.
    const forged = { authority: carol.publicKey, signature: new Uint8Array(64) }
    expect(reason({ ...once, approvals: [...once.approvals, forged] })).toBe('TOO_FEW_APPROVALS')
    const twice = approveCapability(carol, once, provider)
    expect(reason(twice)).toBe('OK')
    // Approvals survive encoding and do not change the token's id.
    expect(capabilityId(twice, provider)).toEqual(capabilityId(token, provider))
    expect(reason(parseCapability(formatCapability(twice)))).toBe('OK')
  })

  it('bounds the revocation set', () => {
    const revocations = new RevocationSet({ entriesMax: 2 })
    revocations.revoke('aa')
    revocations.revoke('bb')
    revocations.revoke('bb')
    expect(() => revocations.revoke('cc')).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED' }))
    expect(revocations.has('AA')).toBe(true)
  })
})

describe('capability encoding', () => {
  const segment = fc.constantFrom('a', 'b', 'kv', 'users', '7')
  const pattern = fc
    .tuple(fc.array(segment, { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([parts, wildcard]) => parts.join('/') + (wildcard ? '/*' : ''))
  const anyPattern = fc.oneof(pattern, fc.constant('*'))
  const claimsArbitrary = fc.record({
    resource: anyPattern,
    abilities: fc.uniqueArray(anyPattern, { minLength: 1, maxLength: 4 }),
    caveats: fc.dictionary(fc.constantFrom('region', 'tenant', 'ip', 'x'), fc.string({ maxLength: 8 }), {
      maxKeys: 3,
    }),
    notBeforeMs: fc.integer({ min: 0, max: NOW }),
    lifetimeMs: fc.integer({ min: 1, max: 10 * HOUR }),
  })
  const toClaims = (
    raw: {
      resource: string
      abilities: string[]
      caveats: Record<string, string>
      notBeforeMs: number
      lifetimeMs: number
    },
    audience: NodeId,
  ): CapabilityClaims => ({
    audience,
    resource: raw.resource,
    abilities: raw.abilities,
    caveats: raw.caveats,
    notBeforeMs: raw.notBeforeMs,
    expiresMs: raw.notBeforeMs + raw.lifetimeMs,
    quorum: undefined,
  })

  it('round-trips binary and printable forms exactly', () => {
    fc.assert(
      fc.property(claimsArbitrary, fc.boolean(), (raw, delegated) => {
        let token = issueCapability(root, toClaims(raw, alice.nodeId), { provider })
        if (delegated)
          token = delegateCapability(
            alice,
            token,
            { ...toClaims(raw, bob.nodeId), caveats: token.caveats },
            { provider },
          )
        const bytes = encodeCapability(token)
        const decoded = decodeCapability(bytes)
        expect(encodeCapability(decoded)).toEqual(bytes)
        expect(decoded).toEqual(token)
        const printed = formatCapability(token)
        expect(printed).toMatch(/^sct1\.[A-Za-z0-9_-]+$/)
        expect(encodeCapability(parseCapability(printed))).toEqual(bytes)
      }),
      { numRuns: 100 },
    )
  })

  it('refuses malformed input with DecodeError and nothing else', () => {
    const { toBob } = chain()
    const bytes = encodeCapability(toBob)
    const decodeOrDecodeError = (input: Uint8Array) => {
      try {
        decodeCapability(input)
      } catch (error) {
        expect(error).toBeInstanceOf(DecodeError)
      }
    }
    for (let length = 0; length < bytes.length; length++) {
      expect(() => decodeCapability(bytes.subarray(0, length))).toThrow(DecodeError)
    }
    expect(() => decodeCapability(new Uint8Array([...bytes, 0]))).toThrow(DecodeError)
    expect(() => parseCapability('Bearer xyz')).toThrow(DecodeError)
    expect(() => parseCapability('sct1.!!!')).toThrow(DecodeError)
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.nat(bytes.length - 1),
        fc.nat(255),
        (garbage, index, value) => {
          decodeOrDecodeError(garbage)
          const mutated = Uint8Array.from(bytes)
          mutated[index] = value
          decodeOrDecodeError(mutated)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('refuses a chain nested deeper than the decoder allows', () => {
    let token = issueCapability(root, claims(alice.nodeId), { provider })
    for (let i = 0; i < 33; i++) token = delegateCapability(alice, token, claims(alice.nodeId), { provider })
    expect(() => decodeCapability(encodeCapability(token))).toThrow(
      expect.objectContaining({ code: 'OVERSIZED' }),
    )
    expect(verifyCapability(token, options(alice.nodeId))).toMatchObject({
      ok: false,
      reason: 'CHAIN_TOO_DEEP',
    })
  })

  it('attenuation never escalates: whatever a delegation grants, its parent grants', () => {
    const requestArbitrary = fc.record({ resource: pattern, ability: pattern })
    fc.assert(
      fc.property(
        claimsArbitrary,
        claimsArbitrary,
        fc.array(requestArbitrary, { maxLength: 8 }),
        (parentRaw, childRaw, requests) => {
          const parent = issueCapability(root, toClaims(parentRaw, alice.nodeId), { provider })
          const childClaims = toClaims(childRaw, bob.nodeId)
          const violation = attenuationViolation(parent, childClaims)
          const child = signCapability(alice, childClaims, parent, new Uint8Array(16), provider)
          const nowMs = childClaims.notBeforeMs
          const childResult = verifyCapability(child, options(bob.nodeId, { nowMs }))
          if (violation) {
            expect(childResult).toMatchObject({ ok: false, reason: 'ESCALATION' })
            expect(() => delegateCapability(alice, parent, childClaims, { provider })).toThrow()
            return
          }
          for (const request of requests) {
            const childGrants = verifyCapability(child, options(bob.nodeId, { nowMs, request })).ok
            const parentGrants = verifyCapability(parent, options(alice.nodeId, { nowMs, request })).ok
            if (childGrants) expect(parentGrants).toBe(true)
            if (childGrants) {
              expect(patternMatches(parent.resource, request.resource)).toBe(true)
            }
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})
