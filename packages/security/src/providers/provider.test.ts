// Goal: both providers compute exactly what the standards say, and agree with each other.
// Method: RFC 8032 / RFC 7748 / RFC 8439 and Wycheproof vectors run against each provider; then
// fast-check drives random inputs through one provider and checks the other verifies/decrypts them.
import { readFileSync } from 'node:fs'
import { bytesToHex, hexToBytes } from '@socketcloud/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createNativeCryptoProvider, createPortableCryptoProvider } from './index'
import type { CryptoProvider } from './index'

interface Vectors {
  rfc8032_ed25519: { secretKey: string; publicKey: string; message: string; signature: string }[]
  wycheproof_ed25519: { tests: { tcId: number; pk: string; msg: string; sig: string; result: string }[] }
  wycheproof_x25519: {
    tests: { tcId: number; public: string; private: string; shared: string; result: string }[]
  }
  wycheproof_chacha20poly1305: {
    tests: {
      tcId: number
      key: string
      iv: string
      aad: string
      msg: string
      ct: string
      tag: string
      result: string
    }[]
  }
}

const vectors = JSON.parse(
  readFileSync(new URL('./fixtures/crypto-vectors.json', import.meta.url), 'utf8'),
) as Vectors

function hex(text: string): Uint8Array {
  const bytes = hexToBytes(text)
  if (!bytes) throw new Error(`bad hex in fixture: ${text.slice(0, 20)}`)
  return bytes
}

const providers: CryptoProvider[] = [createNativeCryptoProvider(), createPortableCryptoProvider()]

describe.each(providers)('$name provider', (provider) => {
  it('derives keys and signs the RFC 8032 vectors byte for byte', () => {
    expect(vectors.rfc8032_ed25519.length).toBe(5)
    for (const vector of vectors.rfc8032_ed25519) {
      const seed = hex(vector.secretKey)
      expect(bytesToHex(provider.ed25519PublicKey(seed))).toBe(vector.publicKey)
      const key = provider.ed25519SigningKey(seed)
      expect(bytesToHex(key.publicKey)).toBe(vector.publicKey)
      expect(bytesToHex(key.sign(hex(vector.message)))).toBe(vector.signature)
      expect(provider.ed25519Verify(hex(vector.publicKey), hex(vector.message), hex(vector.signature))).toBe(
        true,
      )
    }
  })

  it('accepts every valid and refuses every invalid Wycheproof ed25519 case', () => {
    const failures: number[] = []
    for (const test of vectors.wycheproof_ed25519.tests) {
      const accepted = provider.ed25519Verify(hex(test.pk), hex(test.msg), hex(test.sig))
      if (test.result === 'valid' && !accepted) failures.push(test.tcId)
      if (test.result === 'invalid' && accepted) failures.push(test.tcId)
    }
    expect(failures).toEqual([])
    expect(vectors.wycheproof_ed25519.tests.length).toBe(151)
  })

  it('computes X25519 for the Wycheproof cases (RFC 7748 included)', () => {
    const failures: number[] = []
    let lowOrderRefused = 0
    for (const test of vectors.wycheproof_x25519.tests) {
      const shared = provider.x25519(hex(test.private), hex(test.public))
      const expected = test.shared
      if (shared === undefined) {
        // Refusal is only allowed where the output is the all-zero secret of a low-order point.
        if (/^0+$/.test(expected)) lowOrderRefused++
        else failures.push(test.tcId)
      } else if (test.result !== 'invalid' && bytesToHex(shared) !== expected) {
        failures.push(test.tcId)
      }
    }
    expect(failures).toEqual([])
    expect(lowOrderRefused).toBeGreaterThan(0)
  })

  it('derives the RFC 7748 section 6.1 public keys and shared secret', () => {
    const alicePrivate = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')
    const bobPrivate = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb')
    const alicePublic = provider.x25519PublicKey(alicePrivate)
    const bobPublic = provider.x25519PublicKey(bobPrivate)
    expect(bytesToHex(alicePublic)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a')
    expect(bytesToHex(bobPublic)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f')
    const expected = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'
    expect(bytesToHex(provider.x25519(alicePrivate, bobPublic)!)).toBe(expected)
    expect(bytesToHex(provider.x25519(bobPrivate, alicePublic)!)).toBe(expected)
  })

  it('seals and opens the Wycheproof ChaCha20-Poly1305 cases (RFC 8439 included)', () => {
    const failures: number[] = []
    let checked = 0
    for (const test of vectors.wycheproof_chacha20poly1305.tests) {
      const key = hex(test.key)
      const nonce = hex(test.iv)
      const aad = hex(test.aad)
      const sealed = hex(test.ct + test.tag)
      const opened = provider.aeadOpen(key, nonce, aad, sealed)
      if (test.result === 'valid') {
        checked++
        if (opened === undefined || bytesToHex(opened) !== test.msg) failures.push(test.tcId)
        if (bytesToHex(provider.aeadSeal(key, nonce, aad, hex(test.msg))) !== test.ct + test.tag) {
          failures.push(test.tcId)
        }
      } else if (opened !== undefined) {
        failures.push(test.tcId)
      }
    }
    expect(failures).toEqual([])
    expect(checked).toBe(256)
  })

  it('hashes SHA-256, BLAKE2b-512 and their HMACs to known answers', () => {
    const abc = new TextEncoder().encode('abc')
    expect(bytesToHex(provider.hash('SHA256', abc))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    )
    // RFC 7693 Appendix A.
    expect(bytesToHex(provider.hash('BLAKE2b', abc))).toBe(
      'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1' +
        '7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923',
    )
    // RFC 4231 test case 2.
    const key = new TextEncoder().encode('Jefe')
    const data = new TextEncoder().encode('what do ya want for nothing?')
    expect(bytesToHex(provider.hmac('SHA256', key, data))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    )
    expect(provider.hmac('BLAKE2b', key, data).length).toBe(64)
  })

  it('never throws on hostile verify or open input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 80 }), (a, b) => {
        expect(provider.ed25519Verify(a, b, b)).toBe(false)
        expect(provider.aeadOpen(new Uint8Array(32), new Uint8Array(12), a, b)).toBeUndefined()
      }),
      { numRuns: 200 },
    )
  })
})

describe('native and portable providers cross-verify', () => {
  const [native, portable] = providers as [CryptoProvider, CryptoProvider]
  const seed32 = fc.uint8Array({ minLength: 32, maxLength: 32 })

  it('each verifies the other’s signatures and both produce identical signatures', () => {
    fc.assert(
      fc.property(seed32, fc.uint8Array({ maxLength: 512 }), (seed, message) => {
        const a = native.ed25519SigningKey(seed)
        const b = portable.ed25519SigningKey(seed)
        expect(a.publicKey).toEqual(b.publicKey)
        const signatureA = a.sign(message)
        expect(signatureA).toEqual(b.sign(message))
        expect(portable.ed25519Verify(a.publicKey, message, signatureA)).toBe(true)
        expect(native.ed25519Verify(b.publicKey, message, signatureA)).toBe(true)
        const flipped = Uint8Array.from(signatureA)
        flipped[0]! ^= 1
        expect(native.ed25519Verify(a.publicKey, message, flipped)).toBe(false)
        expect(portable.ed25519Verify(a.publicKey, message, flipped)).toBe(false)
      }),
      { numRuns: 50 },
    )
  })

  it('agree on X25519', () => {
    fc.assert(
      fc.property(seed32, seed32, (x, y) => {
        const publicY = portable.x25519PublicKey(y)
        expect(native.x25519PublicKey(y)).toEqual(publicY)
        expect(native.x25519(x, publicY)).toEqual(portable.x25519(x, publicY))
      }),
      { numRuns: 50 },
    )
  })

  it('open what the other sealed', () => {
    fc.assert(
      fc.property(
        seed32,
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 4096 }),
        (key, nonce, aad, plaintext) => {
          const sealed = native.aeadSeal(key, nonce, aad, plaintext)
          expect(portable.aeadSeal(key, nonce, aad, plaintext)).toEqual(sealed)
          expect(portable.aeadOpen(key, nonce, aad, sealed)).toEqual(plaintext)
          expect(native.aeadOpen(key, nonce, aad, sealed)).toEqual(plaintext)
        },
      ),
      { numRuns: 100 },
    )
  })

  it('agree on hashes and HMACs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 200 }), (key, data) => {
        for (const algorithm of ['SHA256', 'BLAKE2b'] as const) {
          expect(native.hash(algorithm, data)).toEqual(portable.hash(algorithm, data))
          expect(native.hmac(algorithm, key, data)).toEqual(portable.hmac(algorithm, key, data))
        }
      }),
      { numRuns: 100 },
    )
  })
})
