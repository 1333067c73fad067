// Goal: the HandshakeState refuses misuse and hostile keys with typed errors, and the CipherState
// honours its nonce limit. Method: drive the state machine directly with the native provider.
import { describe, expect, it } from 'vitest'
import { createNativeCryptoProvider } from '../../providers/index'
import { CipherState, HandshakeState, generateKeyPair, parseProtocolName } from './index'

const provider = createNativeCryptoProvider()

function xxPair(): [HandshakeState, HandshakeState] {
  const protocol = parseProtocolName('Noise_XX_25519_ChaChaPoly_SHA256')
  return [
    new HandshakeState({ protocol, initiator: true, provider, staticKeyPair: generateKeyPair(provider) }),
    new HandshakeState({ protocol, initiator: false, provider, staticKeyPair: generateKeyPair(provider) }),
  ]
}

describe('HandshakeState', () => {
  it('parses exactly the specified protocol names and refuses others', () => {
    expect(parseProtocolName('Noise_IK_25519_ChaChaPoly_BLAKE2b').pattern.messages.length).toBe(2)
    for (const name of [
      'Noise_XX_25519_AESGCM_SHA256',
      'Noise_XX_448_ChaChaPoly_SHA256',
      'Noise_XX_25519_ChaChaPoly_SHA512',
      'Noise_XXfallback_25519_ChaChaPoly_SHA256',
      'Noise_XXpsk3_25519_ChaChaPoly_SHA256',
      'noise_XX_25519_ChaChaPoly_SHA256',
      'Noise_toString_25519_ChaChaPoly_SHA256',
    ]) {
      expect(() => parseProtocolName(name)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
    }
  })

  it('refuses out-of-turn calls and any use after completion or failure', () => {
    const [initiator, responder] = xxPair()
    expect(() => responder.writeMessage(new Uint8Array(0))).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    )
    expect(() => initiator.readMessage(new Uint8Array(32))).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    )
    responder.readMessage(initiator.writeMessage(new Uint8Array(0)))
    initiator.readMessage(responder.writeMessage(new Uint8Array(0)))
    responder.readMessage(initiator.writeMessage(new Uint8Array(0)))
    expect(initiator.isComplete && responder.isComplete).toBe(true)
    expect(() => initiator.writeMessage(new Uint8Array(0))).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    )

    const [, victim] = xxPair()
    expect(() => victim.readMessage(new Uint8Array(10))).toThrow(
      expect.objectContaining({ code: 'HANDSHAKE_FAILED' }),
    )
    expect(() => victim.readMessage(new Uint8Array(32))).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    )
  })

  it('refuses a low-order ephemeral key instead of deriving a known secret', () => {
    const [initiator, responder] = xxPair()
    responder.readMessage(initiator.writeMessage(new Uint8Array(0)))
    const reply = responder.writeMessage(new Uint8Array(0))
    // Replace the responder's ephemeral key with the point of order 1 (u = 0).
    const forged = Uint8Array.from(reply)
    forged.fill(0, 0, 32)
    expect(() => initiator.readMessage(forged)).toThrow(
      expect.objectContaining({ code: 'HANDSHAKE_FAILED', message: expect.stringContaining('low-order') }),
    )
  })

  it('refuses oversized messages in both directions', () => {
    const [initiator, responder] = xxPair()
    expect(() => initiator.writeMessage(new Uint8Array(65_535))).toThrow(
      expect.objectContaining({ code: 'LIMIT_EXCEEDED' }),
    )
    expect(() => responder.readMessage(new Uint8Array(65_536))).toThrow(
      expect.objectContaining({ code: 'HANDSHAKE_FAILED' }),
    )
  })
})

describe('CipherState', () => {
  it('stops at nonceMax and does not advance on a failed decryption', () => {
    const key = new Uint8Array(32).fill(7)
    const sender = new CipherState(provider, key, 2)
    const receiver = new CipherState(provider, key, 2)
    const first = sender.encryptWithAd(new Uint8Array(0), new Uint8Array(3))
    const tampered = Uint8Array.from(first)
    tampered[0]! ^= 1
    expect(() => receiver.decryptWithAd(new Uint8Array(0), tampered)).toThrow(
      expect.objectContaining({ code: 'DECRYPT_FAILED' }),
    )
    expect(receiver.nonceValue).toBe(0)
    receiver.decryptWithAd(new Uint8Array(0), first)
    sender.encryptWithAd(new Uint8Array(0), new Uint8Array(0))
    sender.encryptWithAd(new Uint8Array(0), new Uint8Array(0))
    expect(() => sender.encryptWithAd(new Uint8Array(0), new Uint8Array(0))).toThrow(
      expect.objectContaining({ code: 'NONCE_EXHAUSTED' }),
    )
  })
})
