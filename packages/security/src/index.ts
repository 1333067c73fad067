/**
 * @packageDocumentation
 * ed25519 identities, signed envelopes, the Noise secure channel and capability tokens for
 * SocketCloud. Every primitive comes through one `CryptoProvider`: `node:crypto` by default, or the
 * pure-JavaScript @noble implementation where OpenSSL is not available.
 *
 * @example
 * ```ts
 * import { NoiseUpgrader, loadOrCreateIdentity } from '@socketcloud/security'
 * const identity = await loadOrCreateIdentity('.socketcloud/node-1/identity.key') // mode 0600
 * const upgrader = new NoiseUpgrader({ identity }) // hand to a stream transport as its ConnectionUpgrader
 * ```
 */
export { SecurityError } from './errors'
export type { SecurityErrorCode } from './errors'

export {
  createNativeCryptoProvider,
  createPortableCryptoProvider,
  defaultCryptoProvider,
  HASH_OUTPUT_BYTES,
} from './providers/index'
export type { CryptoProvider, Ed25519SigningKey, HashAlgorithm } from './providers/index'

export { ED25519, Ed25519Identity, Ed25519Verifier, nodeIdFromPublicKey } from './identity/identity'
export { formatKeyFile, loadIdentity, loadOrCreateIdentity, parseKeyFile } from './identity/key-file'
export type { KeyFileOptions } from './identity/key-file'

export {
  decodeEnvelope,
  encodeEnvelope,
  ENVELOPE_LIMITS,
  ReplayGuard,
  signEnvelope,
  verifyEnvelope,
} from './core/envelope/index'
export type { ReplayGuardInit, SignedEnvelope, SignOptions } from './core/envelope/index'

export {
  CipherState,
  generateKeyPair,
  HandshakeState,
  HANDSHAKE_PATTERNS,
  keyPairFromPrivate,
  NOISE_MESSAGE_BYTES_MAX,
  parseProtocolName,
} from './core/noise/index'
export type {
  HandshakeConfig,
  HandshakePattern,
  HandshakeResult,
  KeyPair,
  NoiseProtocol,
  PatternName,
} from './core/noise/index'

export {
  CHUNK_PLAINTEXT_BYTES_MAX,
  NoiseSession,
  SecureHandshake,
  sealedFrameBytes,
  sealOverheadBytes,
} from './core/channel/index'
export type {
  ChannelPattern,
  NoiseSessionLimits,
  SecureHandshakeConfig,
  SecureHandshakeResult,
} from './core/channel/index'
export { NoiseUpgrader, NOISE_UPGRADER_PROTOCOL } from './channel/noise-upgrader'
export type { NoiseSecureSession, NoiseUpgraderInit } from './channel/noise-upgrader'

export {
  approveCapability,
  attenuationViolation,
  capabilityId,
  capabilityIdHex,
  decodeCapability,
  delegateCapability,
  encodeCapability,
  formatCapability,
  issueCapability,
  parseCapability,
  patternCovers,
  patternMatches,
  RevocationSet,
  TOKEN_LIMITS,
  verifyCapability,
} from './core/capability/index'
export type {
  CapabilityApproval,
  CapabilityClaims,
  CapabilityDenial,
  CapabilityGrant,
  CapabilityRefusal,
  CapabilityToken,
  CapabilityVerification,
  IssueOptions,
  QuorumRequirement,
  VerifyCapabilityOptions,
} from './core/capability/index'
