// Goal: the DHT works over real sockets: 50 nodes, each on its own UDP port on 127.0.0.1, bootstrap
// from one seed, then every node finds others by id (getting addresses it can dial) and records put by
// one node are read by the others, signed with real ed25519 identities.
// Method: 50 UdpTransports (OS-chosen ports) in this process, one DhtNode each with an
// Ed25519Identity from @socketcloud/security as signer and its Ed25519Verifier; joins run a few at a
// time from the single seed; every wait is on a promise, none on a fixed sleep.
import { Ed25519Identity, Ed25519Verifier } from '@socketcloud/security'
import { DhtNode } from '@socketcloud/dht'
import { PlaintextUpgrader, UdpTransport } from '@socketcloud/transport'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const NODES = 50
const verifier = new Ed25519Verifier()
const transports: UdpTransport[] = []
const nodes: DhtNode[] = []
const addresses: string[] = []

beforeAll(async () => {
  for (let i = 0; i < NODES; i++) {
    const identity = Ed25519Identity.generate()
    const transport = new UdpTransport({ localId: identity.nodeId, upgrader: new PlaintextUpgrader() })
    addresses.push(await transport.listen('udp://127.0.0.1:0'))
    const node = new DhtNode({ transport, verifier, signer: identity }, {})
    node.start()
    transports.push(transport)
    nodes.push(node)
  }
  const seed = addresses[0]!
  // Joining in small groups keeps the seed's first answers useful to the next joiners.
  for (let i = 1; i < NODES; i += 7) {
    await Promise.all(nodes.slice(i, i + 7).map((node) => node.bootstrap([seed])))
  }
}, 120_000)

afterAll(async () => {
  for (const node of nodes) node.stop()
  await Promise.all(transports.map((transport) => transport.close()))
})

describe('DHT over UDP on 127.0.0.1', () => {
  it('every node finds every other node it looks for, with the address it listens on', async () => {
    const lookups: Promise<void>[] = []
    for (let i = 0; i < NODES; i++) {
      for (const offset of [1, 17, 33]) {
        const target = (i + offset) % NODES
        lookups.push(
          nodes[i]!.findNode(nodes[target]!.localId).then((result) => {
            expect(result.found?.id.hex, `node ${i} looking for ${target}`).toBe(nodes[target]!.localId.hex)
            expect(result.found?.addresses).toEqual([addresses[target]])
          }),
        )
      }
    }
    await Promise.all(lookups)
    for (const node of nodes) expect(node.routingTableSize).toBeGreaterThanOrEqual(10)
  })

  it('stores records signed by their owner and reads them back from other nodes', async () => {
    const keys = Array.from({ length: 5 }, (_, n) => new Uint8Array(32).fill(n + 1))
    const puts = await Promise.all(
      keys.map((key, n) =>
        nodes[n * 9]!.put(key, new TextEncoder().encode(`record ${n}`), { ttlMs: 60_000 }),
      ),
    )
    for (const put of puts) expect(put.storedCount).toBeGreaterThanOrEqual(15)
    const reads = await Promise.all(keys.map((key, n) => nodes[(n * 9 + 25) % NODES]!.get(key)))
    reads.forEach(({ record }, n) => expect(new TextDecoder().decode(record?.value)).toBe(`record ${n}`))
    // Nothing hostile was sent, so nothing may be refused except answers that arrived after their
    // request timed out (possible on a loaded machine; they are counted as LATE, never used).
    for (const node of nodes) {
      const { LATE: _late, ...refused } = node.stats.refused
      expect(refused).toEqual(Object.fromEntries(Object.keys(refused).map((reason) => [reason, 0])))
    }
  })
})
