/**
 * @packageDocumentation
 * The interfaces, ids, codec, errors and limits every SocketCloud package shares. It depends on no
 * other package of ours and does no I/O (its one real clock lives in `systemClock`).
 *
 * @example
 * ```ts
 * import { Codec, NodeId } from '@socketcloud/core'
 * const codec = new Codec()
 * const sender = NodeId.fromHex('ab'.repeat(32))
 * const bytes = codec.encode({ type: 'demo.hello', sender, payload: { text: 'hi' } })
 * const envelope = codec.decode(bytes) // throws DecodeError on malformed input
 * ```
 */
export * from './errors'
export * from './bytes'
export * from './node-id'
export * from './address'
export * from './clock'
export * from './random'
export * from './emitter'
export * from './transport'
export * from './signer'
export * from './storage'
export * from './state-machine'
export * from './consensus'
export * from './logger'
export * from './metrics'
export * from './limits'
export * from './codec/bytes-in-parts'
export * from './codec/envelope'
export * from './codec/validate'
export { systemClock } from './system/clock'
