import type { NodeId } from '@socketcloud/core'

/**
 * A node as the DHT knows it: its id and the addresses it advertised, in its order of preference,
 * so a caller can dial it through any Transport that speaks one of them.
 */
export interface Contact {
  readonly id: NodeId
  readonly addresses: readonly string[]
}
