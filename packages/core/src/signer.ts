/**
 * Signature algorithms are tagged so that a post-quantum scheme can join ed25519 without a wire break.
 * The string is part of what is signed over wherever a signature is embedded in a message.
 */
export type SignatureAlgorithm = 'ed25519' | (string & { readonly __brand?: 'SignatureAlgorithm' })

/**
 * Signs on behalf of this node. Implemented by `@socketcloud/security` (ed25519 identities);
 * injected into consensus engines and the DHT by the node assembly. Synchronous, so pure cores can
 * call it inside `step`.
 */
export interface Signer {
  readonly algorithm: SignatureAlgorithm
  readonly publicKey: Uint8Array
  sign(message: Uint8Array): Uint8Array
}

/**
 * Checks signatures of any node. Implemented by `@socketcloud/security`. Returns false for a bad
 * signature, a malformed key or an unknown algorithm; never throws on hostile input.
 */
export interface Verifier {
  verify(
    algorithm: SignatureAlgorithm,
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
  ): boolean
}

export interface TaggedSignature {
  readonly algorithm: SignatureAlgorithm
  readonly publicKey: Uint8Array
  readonly signature: Uint8Array
}
