// Goal: a signed envelope verifies only for the purpose it was signed for, survives encoding, and
// replay protection refuses a second use within the window and anything outside it, with bounded
// memory. Method: real ed25519 identities; fast-check for the codec and for tampering.
import { DecodeError } from '@socketcloud/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createNativeCryptoProvider } from '../../providers/index'
import { Ed25519Identity, Ed25519Verifier } from '../../identity/identity'
import { ReplayGuard, decodeEnvelope, encodeEnvelope, signEnvelope, verifyEnvelope } from './index'

const provider = createNativeCryptoProvider()
const identity = Ed25519Identity.fromSeed(new Uint8Array(32).fill(5), provider)
const verifier = new Ed25519Verifier(provider)
const payload = new TextEncoder().encode('vote for term 7')

describe('signed envelopes', () => {
  it('verify under their own context only', () => {
    const envelope = signEnvelope(identity, 'consensus.vote', payload)
    expect(verifyEnvelope(verifier, envelope, 'consensus.vote').payload).toEqual(payload)
    expect(() => verifyEnvelope(verifier, envelope, 'dht.record')).toThrow(
      expect.objectContaining({ code: 'WRONG_CONTEXT' }),
    )
    // Relabelling the context does not carry the signature along.
    expect(() => verifyEnvelope(verifier, { ...envelope, context: 'dht.record' }, 'dht.record')).toThrow(
      expect.objectContaining({ code: 'BAD_SIGNATURE' }),
    )
  })

  it('round-trip through the binary form, and any tampering breaks them', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.option(fc.uint8Array({ minLength: 8, maxLength: 32 }), { nil: undefined }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.nat(),
        (body, nonce, timestampMs, position) => {
          const envelope = signEnvelope(identity, 'test.ctx', body, {
            ...(nonce ? { nonce } : {}),
            ...(timestampMs !== undefined ? { timestampMs } : {}),
          })
          const bytes = encodeEnvelope(envelope)
          const decoded = decodeEnvelope(bytes)
          expect(decoded).toEqual(envelope)
          verifyEnvelope(verifier, decoded, 'test.ctx')
          const tampered = Uint8Array.from(bytes)
          tampered[position % tampered.length]! ^= 0x40
          try {
            verifyEnvelope(verifier, decodeEnvelope(tampered), 'test.ctx')
            expect.unreachable('tampered envelope verified')
          } catch (error) {
            expect((error as { code?: string }).code).toMatch(
              /BAD_SIGNATURE|WRONG_CONTEXT|MALFORMED|TRUNCATED|INVALID_FIELD|OVERSIZED|UNSUPPORTED_VERSION/,
            )
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('refuses truncated and garbage encodings with DecodeError', () => {
    const bytes = encodeEnvelope(
      signEnvelope(identity, 'x', payload, { nonce: new Uint8Array(16), timestampMs: 5 }),
    )
    for (let length = 0; length < bytes.length; length++) {
      expect(() => decodeEnvelope(bytes.subarray(0, length))).toThrow(DecodeError)
    }
    expect(() => decodeEnvelope(new Uint8Array([...bytes, 1]))).toThrow(DecodeError)
  })
})

describe('replay guard', () => {
  const NOW = 1_700_000_000_000
  const fresh = (nonceByte: number, timestampMs = NOW) =>
    signEnvelope(identity, 'api.call', payload, { nonce: new Uint8Array(16).fill(nonceByte), timestampMs })

  it('accepts once, refuses the replay, and refuses stale or unprotected envelopes', () => {
    const guard = new ReplayGuard({ windowMs: 60_000 })
    const envelope = fresh(1)
    guard.accept(envelope, NOW)
    expect(() => guard.accept(envelope, NOW + 1000)).toThrow(expect.objectContaining({ code: 'REPLAYED' }))
    expect(() => guard.accept(fresh(2, NOW - 61_000), NOW)).toThrow(
      expect.objectContaining({ code: 'STALE' }),
    )
    expect(() => guard.accept(fresh(3, NOW + 61_000), NOW)).toThrow(
      expect.objectContaining({ code: 'STALE' }),
    )
    expect(() => guard.accept(signEnvelope(identity, 'api.call', payload), NOW)).toThrow(
      expect.objectContaining({ code: 'STALE' }),
    )
    // Once the window has passed, the old envelope is refused as stale, not remembered forever.
    expect(() => guard.accept(envelope, NOW + 120_001)).toThrow(expect.objectContaining({ code: 'STALE' }))
  })

  it('keeps memory bounded and forgets nonces once they can no longer pass the window', () => {
    const guard = new ReplayGuard({ windowMs: 1000, nonceEntriesMax: 3 })
    for (let i = 0; i < 3; i++) guard.accept(fresh(i), NOW)
    expect(() => guard.accept(fresh(9), NOW)).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED' }))
    guard.accept(fresh(10, NOW + 1500), NOW + 1500)
    expect(guard.size).toBeLessThanOrEqual(3)
  })
})
