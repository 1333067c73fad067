import { NodeId, TransportError, assert, bytesEqual, concatBytes, utf8Encode } from '@socketcloud/core'
import type { Signer, Verifier } from '@socketcloud/core'
import type { CryptoProvider, HashAlgorithm } from '../../providers/provider'
import { HandshakeState } from '../noise/handshake-state'
import type { KeyPair } from '../noise/handshake-state'
import { parseProtocolName } from '../noise/protocol-name'
import { createIdentityPayload, decodeIdentityPayload, staticKeyStatement } from './identity-payload'
import { NoiseSession } from './noise-session'
import type { NoiseSessionLimits } from './noise-session'

/** Patterns the secure channel negotiates: XX on first contact, IK when the peer's static key is known. */
export type ChannelPattern = 'XX' | 'IK'

const HEADER_VERSION = 1
const HEADER_BYTES = 3
const PATTERN_CODES: Readonly<Record<ChannelPattern, number>> = { XX: 1, IK: 2 }
const HASH_CODES: Readonly<Record<HashAlgorithm, number>> = { SHA256: 1, BLAKE2b: 2 }
const PROLOGUE_TAG = utf8Encode('SocketCloud noise v1\0')
const EMPTY = new Uint8Array(0)

export interface SecureHandshakeConfig {
  readonly initiator: boolean
  readonly provider: CryptoProvider
  /** Our ed25519 identity; it signs our Noise static key. */
  readonly signer: Signer
  readonly verifier: Verifier
  /** Our Noise static key pair. */
  readonly staticKeyPair: KeyPair
  /** Initiator only: the Noise hash to use. The responder follows the initiator's choice. */
  readonly hash?: HashAlgorithm
  /** Initiator only: the responder's Noise static key, when known; selects IK instead of XX. */
  readonly remoteStaticPublicKey?: Uint8Array
  /** Refuse the peer unless it proves this identity (PEER_ID_MISMATCH). */
  readonly expectedPeer?: NodeId
  readonly sessionLimits?: NoiseSessionLimits
  /** Responder only: the patterns it accepts. @default ['XX', 'IK'] */
  readonly acceptedPatterns?: readonly ChannelPattern[]
  /** Responder only: the hashes it accepts. @default ['SHA256', 'BLAKE2b'] */
  readonly acceptedHashes?: readonly HashAlgorithm[]
}

export interface SecureHandshakeResult {
  readonly remotePeer: NodeId
  readonly remoteIdentityKey: Uint8Array
  readonly remoteStaticPublicKey: Uint8Array
  readonly protocolName: string
  readonly handshakeHash: Uint8Array
  readonly session: NoiseSession
}

/** What a step produced: a frame to send (maybe) and whether the handshake is finished. */
export interface HandshakeStep {
  readonly send: Uint8Array | undefined
  readonly done: boolean
}

/**
 * The identity-bound Noise handshake as a pure state machine over frames. The driver (the
 * ConnectionUpgrader) calls `start()` on the initiator, passes every received frame to `receive()`,
 * sends what each step returns, and reads `result` once `done`. Every refusal is a TransportError:
 * HANDSHAKE_FAILED for malformed, forged or out-of-turn input, PEER_ID_MISMATCH for a valid peer
 * that is not the expected one. After a refusal the handshake accepts nothing more.
 *
 * Wire: the initiator's first frame starts with a 3-byte header (version, pattern, hash) that is
 * also mixed into the prologue, so a downgrade of the header breaks the handshake.
 */
export class SecureHandshake {
  private state: HandshakeState | undefined
  private outcome: SecureHandshakeResult | undefined
  private failure: TransportError | undefined
  private remoteIdentity: { identityKey: Uint8Array; peer: NodeId } | undefined
  private started = false
  private sentIdentity = false

  constructor(private readonly config: SecureHandshakeConfig) {
    assert(config.staticKeyPair.publicKey.length === 32, 'Noise static key is an X25519 key pair')
  }

  get result(): SecureHandshakeResult {
    assert(this.outcome, 'handshake result read before completion')
    return this.outcome
  }

  get pattern(): ChannelPattern | undefined {
    const name = this.state?.protocolName
    return name === undefined ? undefined : (name.split('_')[1] as ChannelPattern)
  }

  /** Initiator: the first frame. */
  start(): HandshakeStep {
    assert(this.config.initiator && !this.started, 'start is called once, by the initiator')
    this.started = true
    return this.guard(() => {
      const pattern: ChannelPattern = this.config.remoteStaticPublicKey ? 'IK' : 'XX'
      const hash = this.config.hash ?? 'BLAKE2b'
      const header = Uint8Array.of(HEADER_VERSION, PATTERN_CODES[pattern], HASH_CODES[hash])
      this.state = this.createState(pattern, hash, header)
      const frame = concatBytes([header, this.writeNext()])
      return { send: frame, done: this.finishIfComplete() }
    })
  }

  receive(frame: Uint8Array): HandshakeStep {
    return this.guard(() => {
      if (this.outcome) throw this.refuse('frame received after the handshake completed')
      let message = frame
      if (!this.state) {
        if (this.config.initiator) throw this.refuse('frame received before start')
        const header = this.parseHeader(frame)
        this.state = this.createState(header.pattern, header.hash, frame.subarray(0, HEADER_BYTES))
        message = frame.subarray(HEADER_BYTES)
      }
      if (this.state.isOurTurn) throw this.refuse('frame received out of turn')
      const payload = this.state.readMessage(message)
      this.checkPayload(payload)
      if (this.finishIfComplete()) return { send: undefined, done: true }
      const send = this.writeNext()
      return { send, done: this.finishIfComplete() }
    })
  }

  private createState(pattern: ChannelPattern, hash: HashAlgorithm, header: Uint8Array): HandshakeState {
    const protocol = parseProtocolName(`Noise_${pattern}_25519_ChaChaPoly_${hash}`)
    const { initiator, provider, staticKeyPair, remoteStaticPublicKey, sessionLimits } = this.config
    return new HandshakeState({
      protocol,
      initiator,
      provider,
      prologue: concatBytes([PROLOGUE_TAG, header]),
      staticKeyPair,
      ...(initiator && pattern === 'IK' && remoteStaticPublicKey ? { remoteStaticPublicKey } : {}),
      ...(sessionLimits?.sessionMessagesMax !== undefined
        ? { transportNonceMax: sessionLimits.sessionMessagesMax }
        : {}),
    })
  }

  private parseHeader(frame: Uint8Array): { pattern: ChannelPattern; hash: HashAlgorithm } {
    if (frame.length < HEADER_BYTES) throw this.refuse('first frame shorter than its header')
    if (frame[0] !== HEADER_VERSION) throw this.refuse(`unsupported handshake version ${frame[0]}`)
    const pattern = (Object.keys(PATTERN_CODES) as ChannelPattern[]).find(
      (p) => PATTERN_CODES[p] === frame[1],
    )
    const hash = (Object.keys(HASH_CODES) as HashAlgorithm[]).find((h) => HASH_CODES[h] === frame[2])
    const acceptedPatterns = this.config.acceptedPatterns ?? ['XX', 'IK']
    const acceptedHashes = this.config.acceptedHashes ?? ['SHA256', 'BLAKE2b']
    if (!pattern || !acceptedPatterns.includes(pattern))
      throw this.refuse(`pattern code ${frame[1]} not accepted`)
    if (!hash || !acceptedHashes.includes(hash)) throw this.refuse(`hash code ${frame[2]} not accepted`)
    return { pattern, hash }
  }

  /** Our identity payload rides in the first message we write by whose end the peer knows our static key. */
  private writeNext(): Uint8Array {
    const state = this.state!
    const send = !this.sentIdentity && this.ourStaticKnownAfter(state.messageIndex)
    if (send) this.sentIdentity = true
    const payload = send
      ? createIdentityPayload(this.config.signer, this.config.staticKeyPair.publicKey)
      : EMPTY
    return state.writeMessage(payload)
  }

  private ourStaticKnownAfter(messageIndex: number): boolean {
    const { pattern } = this.state!
    const initiator = this.config.initiator
    const preMessage = initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage
    if (preMessage.includes('s')) return true
    return pattern.messages
      .slice(0, messageIndex + 1)
      .some((tokens, index) => (index % 2 === 0) === initiator && tokens.includes('s'))
  }

  private checkPayload(payload: Uint8Array): void {
    const remoteStatic = this.state!.remoteStaticPublicKey
    if (this.remoteIdentity || !remoteStatic || payload.length === 0) {
      if (payload.length !== 0) throw this.refuse('unexpected handshake payload')
      return
    }
    let decoded
    try {
      decoded = decodeIdentityPayload(payload)
    } catch (error) {
      throw this.refuse('malformed identity payload', error)
    }
    const { verifier, provider, expectedPeer } = this.config
    if (
      !verifier.verify(
        decoded.algorithm,
        decoded.identityKey,
        staticKeyStatement(remoteStatic),
        decoded.signature,
      )
    ) {
      throw this.refuse('identity signature over the Noise static key does not verify')
    }
    const peer = NodeId.fromBytes(provider.hash('SHA256', decoded.identityKey))
    if (expectedPeer && !expectedPeer.equals(peer)) {
      throw new TransportError(
        'PEER_ID_MISMATCH',
        `peer is ${peer.toShortString()}, expected ${expectedPeer.toShortString()}`,
        {
          peer: peer.hex,
          expectedPeer: expectedPeer.hex,
        },
      )
    }
    this.remoteIdentity = { identityKey: decoded.identityKey, peer }
  }

  private finishIfComplete(): boolean {
    const state = this.state!
    if (!state.isComplete) return false
    if (!this.remoteIdentity) throw this.refuse('handshake completed without the peer proving its identity')
    const result = state.handshakeResult
    const remoteStatic = result.remoteStaticPublicKey
    assert(remoteStatic && bytesEqual(remoteStatic, state.remoteStaticPublicKey!), 'remote static is known')
    this.outcome = {
      remotePeer: this.remoteIdentity.peer,
      remoteIdentityKey: this.remoteIdentity.identityKey,
      remoteStaticPublicKey: remoteStatic,
      protocolName: state.protocolName,
      handshakeHash: result.handshakeHash,
      session: new NoiseSession(result.send, result.receive, this.config.sessionLimits),
    }
    return true
  }

  private guard(step: () => HandshakeStep): HandshakeStep {
    if (this.failure) throw this.failure
    try {
      return step()
    } catch (error) {
      this.failure =
        error instanceof TransportError
          ? error
          : new TransportError('HANDSHAKE_FAILED', 'handshake refused', {}, { cause: error })
      throw this.failure
    }
  }

  private refuse(why: string, cause?: unknown): TransportError {
    return new TransportError(
      'HANDSHAKE_FAILED',
      `noise handshake refused: ${why}`,
      { pattern: this.pattern, initiator: this.config.initiator },
      cause === undefined ? undefined : { cause },
    )
  }
}
