import { SimNetwork, Simulation, simNodeId } from '@socketcloud/sim'
import { describe, expect, it } from 'vitest'
import { PeerConnector } from '../src/index'

// Goal: the connector keeps a connection to exactly the peers it is told about, including peers
// added and removed while it runs (members that join or leave a cluster).
describe('PeerConnector', () => {
  it('dials added peers, redials after a crash, and leaves removed peers alone', async () => {
    const sim = new Simulation({ seed: 7 })
    const network = new SimNetwork(sim, { latencyMs: 1 })
    const [a, b, c] = [0, 1, 2].map((index) => ({
      id: simNodeId(index),
      transport: network.endpoint(simNodeId(index)),
    }))
    const addresses = await sim.await(
      Promise.all([a!, b!, c!].map((node, index) => node.transport.listen(`mem://node-${index}`))),
    )
    const connector = new PeerConnector(
      { transport: a!.transport, clock: sim.clock },
      { peers: [[b!.id, addresses[1]!]], redialIntervalMs: 50 },
    )
    const connected = () =>
      a!.transport
        .connectedPeers()
        .map((peer) => peer.hex)
        .sort()
    connector.start()
    sim.runFor(200)
    expect(connected()).toEqual([b!.id.hex])

    connector.setPeer(c!.id, addresses[2]!)
    connector.setPeer(a!.id, addresses[0]!) // itself: ignored
    sim.runFor(200)
    expect(connected()).toEqual([b!.id.hex, c!.id.hex].sort())
    expect(
      connector
        .peerAddresses()
        .map(([peer]) => peer.hex)
        .sort(),
    ).toEqual([b!.id.hex, c!.id.hex].sort())

    connector.removePeer(c!.id)
    await sim.await(a!.transport.hangUp(c!.id))
    network.crash(b!.id)
    sim.runFor(200)
    const restarted = network.restart(b!.id)
    await sim.await(restarted.listen(addresses[1]!))
    sim.runFor(500)
    expect(connected()).toEqual([b!.id.hex])
    connector.stop()
  })
})
