// Goal: a DhtNode under attack keeps serving: garbage, forged replies and a request flood from one
// peer are refused and counted (stats and metrics), the routing table never learns the attacker's
// fake contacts, and the honest nodes still find each other. Options are validated at construction.
// Method: a small network built by joins on the simulator, plus a raw hostile endpoint that writes
// bytes straight onto the simulated network.
import { Codec, ConfigError, MemoryMetrics, NodeId, SeededRandom } from '@socketcloud/core'
import { SimNetwork, Simulation, simNodeId } from '@socketcloud/sim'
import { describe, expect, it } from 'vitest'
import { encodeDhtMessage } from './core/messages'
import { DhtNode } from './dht-node'
import { TestEd25519Signer, TestEd25519Verifier } from './test/ed25519'

describe('DhtNode', () => {
  it('refuses and counts hostile input while serving honest peers', async () => {
    const sim = new Simulation({ seed: 5 })
    const network = new SimNetwork(sim, { latencyMs: 5 })
    const verifier = new TestEd25519Verifier()
    const metrics = new MemoryMetrics()
    const nodes: DhtNode[] = []
    for (let i = 0; i < 12; i++) {
      const transport = network.endpoint(simNodeId(`honest-${i}`))
      await transport.listen(`mem://honest-${i}`)
      const node = new DhtNode(
        {
          transport,
          clock: sim.clock,
          random: new SeededRandom(i),
          verifier,
          metrics: i === 0 ? metrics : undefined,
        },
        { requestsPerSecondPerPeerMax: 20 },
      )
      node.start()
      nodes.push(node)
    }
    await sim.await(Promise.all(nodes.slice(1).map((node) => node.bootstrap(['mem://honest-0']))), {
      timeMsMax: 30_000,
    })
    const victim = nodes[0]!
    const tableBefore = victim
      .contacts()
      .map((contact) => contact.id.hex)
      .sort()

    const attacker = network.endpoint(simNodeId('attacker'))
    const dial = attacker.dial('mem://honest-0')
    await sim.runForAsync(20)
    await dial
    const codec = new Codec()
    const fakes = [1, 2, 3].map((n) => ({ id: simNodeId(`fake-${n}`), addresses: [`mem://fake-${n}`] }))
    const send = (bytes: Uint8Array): void => {
      expect(attacker.send(victim.localId, bytes).ok).toBe(true)
    }
    send(new Uint8Array([1, 2, 3]))
    send(codec.encode({ type: 'dht.nodes', sender: attacker.localId, payload: { requestId: 'x' } }))
    send(encodeDhtMessage(codec, attacker.localId, { type: 'nodes', requestId: 12345, contacts: fakes }))
    send(encodeDhtMessage(codec, simNodeId('someone-else'), { type: 'ping', requestId: 1, addresses: [] }))
    for (let i = 0; i < 200; i++) {
      send(
        encodeDhtMessage(codec, attacker.localId, {
          type: 'find-node',
          requestId: i,
          addresses: [],
          target: new Uint8Array(32),
        }),
      )
    }
    await sim.runForAsync(100)

    expect(victim.stats.refused).toMatchObject({
      MALFORMED: 2,
      UNSOLICITED: 1,
      SENDER_MISMATCH: 1,
      RATE_LIMITED: 180,
    })
    expect(metrics.value('socketcloud_dht_refused_total', { reason: 'RATE_LIMITED' })).toBe(180)
    const tableAfter = victim.contacts().map((contact) => contact.id.hex)
    for (const fake of fakes) expect(tableAfter).not.toContain(fake.id.hex)
    expect(tableAfter.filter((hex) => !tableBefore.includes(hex))).toEqual([])

    // The honest network still works, through the victim too.
    for (const node of nodes.slice(1)) {
      const result = await sim.await(victim.findNode(node.localId))
      expect(result.found?.id.equals(node.localId)).toBe(true)
    }
    for (const node of nodes) node.stop()
  })

  it('validates its options and needs start() and a signer where they matter', async () => {
    const sim = new Simulation({ seed: 1 })
    const transport = new SimNetwork(sim).endpoint(simNodeId('x'))
    const components = { transport, clock: sim.clock, verifier: new TestEd25519Verifier() }
    expect(() => new DhtNode(components, { k: 0 })).toThrow(ConfigError)
    expect(() => new DhtNode(components, { requestsPerSecondPerPeerMax: 1.5 })).toThrow(ConfigError)
    expect(() => new DhtNode(components, { recordValueBytesMax: 100_000 })).toThrow(ConfigError)
    const node = new DhtNode(components)
    await expect(node.findNode(NodeId.fromBytes(new Uint8Array(32)))).rejects.toMatchObject({
      code: 'STOPPED',
    })
    node.start()
    await expect(node.put(new Uint8Array(32), new Uint8Array(1))).rejects.toMatchObject({ code: 'NO_SIGNER' })
    const signed = new DhtNode({
      ...components,
      transport: new SimNetwork(sim).endpoint(simNodeId('y')),
      signer: new TestEd25519Signer(),
    })
    signed.start()
    await expect(signed.put(new Uint8Array(31), new Uint8Array(1))).rejects.toMatchObject({
      code: 'INVALID_FIELD',
    })
    node.stop()
    signed.stop()
  })
})
