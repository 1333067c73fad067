import { NODE_ID_BYTES, NodeId, SeededRandom, assert } from '@socketcloud/core'
import { fnv1a32 } from './hash'

/**
 * A deterministic NodeId for tests: the same `n` always gives the same id, different `n` give
 * different, well-spread ids (so XOR-distance code such as Kademlia sees realistic ids).
 */
export function simNodeId(n: number | string): NodeId {
  assert(typeof n === 'string' || Number.isInteger(n), 'simNodeId takes an integer or a string')
  const random = new SeededRandom(fnv1a32(`socketcloud-sim-node:${typeof n}:${String(n)}`))
  const bytes = new Uint8Array(NODE_ID_BYTES)
  for (let offset = 0; offset < NODE_ID_BYTES; offset += 4) {
    const word = random.nextUint32()
    bytes[offset] = word >>> 24
    bytes[offset + 1] = (word >>> 16) & 0xff
    bytes[offset + 2] = (word >>> 8) & 0xff
    bytes[offset + 3] = word & 0xff
  }
  return NodeId.fromBytes(bytes)
}
