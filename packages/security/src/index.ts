/**
 * @packageDocumentation
 * ed25519 identities, Noise secure channels and capability tokens
 */
export {}
