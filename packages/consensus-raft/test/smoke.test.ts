import { describe, expect, it } from 'vitest'
import { Cluster } from './support/cluster'

describe('smoke', () => {
  it('elects and commits', () => {
    const cluster = new Cluster({ seed: 1, voters: 3 })
    expect(cluster.runUntil(() => cluster.leader() !== undefined, 2000)).toBe(true)
    for (let i = 0; i < 10; i++) expect(cluster.propose(new Uint8Array([i]))).toBe(true)
    cluster.runFor(200)
    for (const node of cluster.nodes.values()) expect(node.appliedIndex).toBe(11)
  })
})
