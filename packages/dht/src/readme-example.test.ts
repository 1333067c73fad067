// Goal: the README's example runs as written. Method: the code between the markers is copied
// verbatim into README.md; it runs on the simulator's network (virtual time), with real ed25519.
import { expect, it } from 'vitest'
// README-IMPORTS-START
import { SimNetwork, Simulation, simNodeId } from '@socketcloud/sim'
import { DhtNode } from '@socketcloud/dht'
import { TestEd25519Signer, TestEd25519Verifier } from './test/ed25519'
// README-IMPORTS-END

it('README example: twenty nodes join through one seed, find each other and share a signed record', async () => {
  // README-EXAMPLE-START
  const sim = new Simulation({ seed: 42 })
  const network = new SimNetwork(sim, { latencyMs: 10 })
  const verifier = new TestEd25519Verifier() // the node app injects @socketcloud/security's Ed25519Verifier
  const nodes: DhtNode[] = []
  for (let i = 0; i < 20; i++) {
    const transport = network.endpoint(simNodeId(i))
    await transport.listen(`mem://node-${i}`)
    const node = new DhtNode(
      { transport, clock: sim.clock, random: sim.random.fork(), verifier, signer: new TestEd25519Signer() },
      { k: 20, alpha: 3, recordValueBytesMax: 1024 },
    )
    node.start()
    nodes.push(node)
  }
  // Everyone joins through node 0: dial it, look up our own id, refresh the buckets.
  const joined = Promise.all(nodes.slice(1).map((node) => node.bootstrap(['mem://node-0'])))
  await sim.await(joined, { timeMsMax: 60_000 })

  // Node 5 finds node 17 by id and learns the address to dial it at.
  const peer = await sim.await(nodes[5]!.findPeer(nodes[17]!.localId))
  console.log(peer?.addresses) // [ 'mem://node-17' ]

  // Node 3 publishes a record under a 32-byte key (in practice a hash of a name); node 11 reads it.
  const key = new Uint8Array(32).fill(0xab)
  const put = await sim.await(nodes[3]!.put(key, new TextEncoder().encode('hello'), { ttlMs: 60_000 }))
  const { record } = await sim.await(nodes[11]!.get(key))
  console.log(put.storedCount, new TextDecoder().decode(record!.value)) // 19 'hello'
  // README-EXAMPLE-END
  expect(peer?.addresses).toEqual(['mem://node-17'])
  expect(put.storedCount).toBe(19)
  expect(new TextDecoder().decode(record?.value)).toBe('hello')
  for (const node of nodes) node.stop()
})
