/**
 * @packageDocumentation
 * Kademlia DHT for SocketCloud: peer discovery and routing over 256-bit node ids (k-buckets with a
 * replacement cache, iterative α-parallel lookups), and signed, sequenced, expiring records that only
 * their owner can replace. The protocol is a pure state machine (`DhtProtocol`); `DhtNode` drives it
 * over any core `Transport` and `Clock`.
 *
 * @example
 * ```ts
 * import { DhtNode } from '@socketcloud/dht'
 * const dht = new DhtNode({ transport, verifier, signer })
 * dht.start()
 * await dht.bootstrap(['udp://10.0.0.1:7000'])
 * const peer = await dht.findPeer(someId)
 * await dht.put(key, new TextEncoder().encode('hello'), { ttlMs: 60_000 })
 * const { record } = await dht.get(key)
 * ```
 */
export { DhtNode } from './dht-node'
export type {
  BootstrapOptions,
  BootstrapResult,
  DhtComponents,
  DhtInit,
  FindNodeResult,
  GetResult,
  PutOptions,
  PutResult,
} from './dht-node'
export { DhtProtocol } from './core/protocol'
export type {
  DhtOutput,
  DhtProtocolParams,
  DhtStats,
  DhtTime,
  OperationKind,
  OperationResult,
  Outgoing,
  PutRequest,
  Refusal,
  RefusalReason,
} from './core/protocol'
export { resolveDhtOptions } from './core/options'
export type { DhtOptions, ResolvedDhtOptions } from './core/options'
export type { Contact } from './core/contact'
export { DhtError } from './core/errors'
export type { DhtErrorCode } from './core/errors'
export { RECORD_KEY_BYTES, recordSigningBytes, signRecord, verifyRecord } from './core/record'
export type { DhtRecord, UnsignedRecord } from './core/record'
export { decodeDhtMessage, encodeDhtMessage } from './core/messages'
export type { DhtMessage, DhtReply, DhtRequest, MessageLimits } from './core/messages'
export { RoutingTable } from './core/routing-table'
export { Lookup } from './core/lookup'
export { commonPrefixLength, compareDistance, randomIdInBucket, xorDistance, ID_BITS } from './core/distance'
