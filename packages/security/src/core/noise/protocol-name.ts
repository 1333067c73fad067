import { ConfigError } from '@socketcloud/core'
import type { HashAlgorithm } from '../../providers/provider'
import { HANDSHAKE_PATTERNS } from './patterns'
import type { HandshakePattern, PatternName } from './patterns'

/** A parsed Noise protocol name such as `Noise_XX_25519_ChaChaPoly_BLAKE2b` (section 8). */
export interface NoiseProtocol {
  readonly name: string
  readonly pattern: HandshakePattern
  readonly dh: '25519'
  readonly cipher: 'ChaChaPoly'
  readonly hash: HashAlgorithm
}

/** Parses a protocol name; throws ConfigError for any pattern, modifier or algorithm we do not implement. */
export function parseProtocolName(name: string): NoiseProtocol {
  const parts = name.split('_')
  const [prefix, patternName, dh, cipher, hash] = parts
  const refuse = (why: string): never => {
    throw new ConfigError(`unsupported Noise protocol ${name}: ${why}`, { protocol: name })
  }
  if (parts.length !== 5 || prefix !== 'Noise') return refuse('expected Noise_<pattern>_<dh>_<cipher>_<hash>')
  if (patternName === undefined || !Object.hasOwn(HANDSHAKE_PATTERNS, patternName)) {
    return refuse(`pattern ${String(patternName)} (supported: ${Object.keys(HANDSHAKE_PATTERNS).join(' ')})`)
  }
  if (dh !== '25519') return refuse(`DH ${String(dh)} (supported: 25519)`)
  if (cipher !== 'ChaChaPoly') return refuse(`cipher ${String(cipher)} (supported: ChaChaPoly)`)
  if (hash !== 'SHA256' && hash !== 'BLAKE2b')
    return refuse(`hash ${String(hash)} (supported: SHA256 BLAKE2b)`)
  return Object.freeze({
    name,
    pattern: HANDSHAKE_PATTERNS[patternName as PatternName],
    dh,
    cipher,
    hash,
  })
}
