// Goal: our generic HandshakeState produces exactly the bytes two independent Noise implementations
// (cacophony, snow) produce, for every pattern we ship, with both hashes and both crypto providers.
// Method: replay each vector's fixed keys and payloads through an initiator and a responder, and
// compare every handshake and transport message, and the handshake hash, byte for byte.
import { readFileSync } from 'node:fs'
import { bytesToHex, hexToBytes } from '@socketcloud/core'
import { describe, expect, it } from 'vitest'
import { createNativeCryptoProvider, createPortableCryptoProvider } from '../../providers/index'
import type { CryptoProvider } from '../../providers/index'
import { HandshakeState, keyPairFromPrivate, parseProtocolName } from './index'

interface NoiseVector {
  protocol_name: string
  init_prologue: string
  init_static?: string
  init_ephemeral: string
  init_remote_static?: string
  resp_prologue: string
  resp_static?: string
  resp_ephemeral: string
  resp_remote_static?: string
  handshake_hash?: string
  messages: { payload: string; ciphertext: string }[]
  _source: string
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/noise-vectors.json', import.meta.url), 'utf8'),
) as { vectors: NoiseVector[] }

function hex(text: string): Uint8Array {
  const bytes = hexToBytes(text)
  if (!bytes) throw new Error('bad hex in fixture')
  return bytes
}

function party(provider: CryptoProvider, vector: NoiseVector, initiator: boolean): HandshakeState {
  const prefix = initiator ? 'init' : 'resp'
  const field = (name: string): string | undefined =>
    (vector as unknown as Record<string, string | undefined>)[`${prefix}_${name}`]
  const staticKey = field('static')
  const remoteStatic = field('remote_static')
  return new HandshakeState({
    protocol: parseProtocolName(vector.protocol_name),
    initiator,
    provider,
    prologue: hex(field('prologue')!),
    ephemeralKeyPair: keyPairFromPrivate(provider, hex(field('ephemeral')!)),
    ...(staticKey ? { staticKeyPair: keyPairFromPrivate(provider, hex(staticKey)) } : {}),
    ...(remoteStatic ? { remoteStaticPublicKey: hex(remoteStatic) } : {}),
  })
}

const providers = [createNativeCryptoProvider(), createPortableCryptoProvider()]

describe('Noise test vectors (cacophony and snow)', () => {
  it('cover XX and IK with both hashes from both generators', () => {
    const names = new Set(fixture.vectors.map((vector) => `${vector.protocol_name}/${vector._source}`))
    for (const pattern of ['XX', 'IK']) {
      for (const hash of ['SHA256', 'BLAKE2b']) {
        for (const source of ['cacophony', 'snow']) {
          expect(names).toContain(`Noise_${pattern}_25519_ChaChaPoly_${hash}/${source}`)
        }
      }
    }
    expect(fixture.vectors.length).toBe(48)
  })

  describe.each(providers)('$name provider', (provider) => {
    it.each(
      fixture.vectors.map((vector) => [`${vector.protocol_name} (${vector._source})`, vector] as const),
    )('%s', (_label, vector) => {
      const initiator = party(provider, vector, true)
      const responder = party(provider, vector, false)
      const handshakeLength = parseProtocolName(vector.protocol_name).pattern.messages.length
      vector.messages.forEach((message, index) => {
        const initiatorSends = index % 2 === 0
        const [sender, receiver] = initiatorSends ? [initiator, responder] : [responder, initiator]
        if (index < handshakeLength) {
          const written = sender.writeMessage(hex(message.payload))
          expect(bytesToHex(written)).toBe(message.ciphertext)
          expect(bytesToHex(receiver.readMessage(written))).toBe(message.payload)
        } else {
          const written = sender.handshakeResult.send.encryptWithAd(new Uint8Array(0), hex(message.payload))
          expect(bytesToHex(written)).toBe(message.ciphertext)
          const read = receiver.handshakeResult.receive.decryptWithAd(new Uint8Array(0), written)
          expect(bytesToHex(read)).toBe(message.payload)
        }
      })
      expect(initiator.isComplete && responder.isComplete).toBe(true)
      if (vector.handshake_hash) {
        expect(bytesToHex(initiator.handshakeResult.handshakeHash)).toBe(vector.handshake_hash)
        expect(bytesToHex(responder.handshakeResult.handshakeHash)).toBe(vector.handshake_hash)
      }
    })
  })
})
