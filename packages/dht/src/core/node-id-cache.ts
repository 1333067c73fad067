import { NodeId } from '@socketcloud/core'

/**
 * Reuses NodeId objects for ids seen before. Every FIND_NODE answer carries up to k ids, mostly ones
 * this node already knows; building a fresh NodeId copies the bytes and renders 64 hex characters,
 * which showed up as a leading cost of lookups. Bounded: when full it starts over.
 */
export class NodeIdCache {
  private readonly ids = new Map<string, NodeId>()

  constructor(private readonly entriesMax: number) {}

  fromBytes(bytes: Uint8Array): NodeId {
    // Every byte maps to one UTF-16 code unit: a cheap, exact key (not for display).
    const key = String.fromCharCode.apply(null, bytes as unknown as number[])
    let id = this.ids.get(key)
    if (id === undefined) {
      id = NodeId.fromBytes(bytes)
      if (this.ids.size >= this.entriesMax) this.ids.clear()
      this.ids.set(key, id)
    }
    return id
  }
}
