// Goal: the Noise channel from @socketcloud/security runs inside @socketcloud/transport's real stream
// transports — identities are proven, messages of every size up to the frame limit cross encrypted,
// and a peer that is not who the address claims is refused.
// Method: two TransportManagers on 127.0.0.1 (OS-chosen ports), each with a NoiseUpgrader over its own
// ed25519 identity, over TCP and over WebSocket (uWebSockets.js server, ws client).
import { NodeId, type Transport } from '@socketcloud/core'
import { Ed25519Identity, NoiseUpgrader } from '@socketcloud/security'
import { TransportManager } from '@socketcloud/transport'
import { afterEach, describe, expect, it } from 'vitest'

const open: Transport[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((transport) => transport.close()))
})

function secureNode(): { transport: TransportManager; identity: Ed25519Identity } {
  const identity = Ed25519Identity.generate()
  const transport = new TransportManager({
    localId: identity.nodeId,
    upgrader: new NoiseUpgrader({ identity }),
  })
  open.push(transport)
  return { transport, identity }
}

function nextMessage(transport: Transport): Promise<{ from: NodeId; bytes: Uint8Array }> {
  return new Promise((resolve) => {
    const off = transport.events.on('message', (event) => {
      off()
      resolve(event)
    })
  })
}

describe.each(['tcp', 'ws'] as const)('Noise over %s', (protocol) => {
  it('authenticates both sides and carries small and 8 MiB messages encrypted', async () => {
    const server = secureNode()
    const client = secureNode()
    const address = await server.transport.listen(`${protocol}://127.0.0.1:0`)

    const peer = await client.transport.dial(address, { expectedPeer: server.identity.nodeId })
    expect(peer.equals(server.identity.nodeId)).toBe(true)

    const small = nextMessage(server.transport)
    expect(client.transport.send(peer, new TextEncoder().encode('hello')).ok).toBe(true)
    const received = await small
    expect(received.from.equals(client.identity.nodeId)).toBe(true)
    expect(new TextDecoder().decode(received.bytes)).toBe('hello')

    const big = new Uint8Array(8 * 1024 * 1024)
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251
    const large = nextMessage(client.transport)
    expect(server.transport.send(client.identity.nodeId, big).ok).toBe(true)
    const echoed = await large
    expect(echoed.bytes.length).toBe(big.length)
    expect(Buffer.compare(Buffer.from(echoed.bytes), Buffer.from(big))).toBe(0)
  })

  it('refuses a peer whose proven identity differs from the expected NodeId', async () => {
    const server = secureNode()
    const client = secureNode()
    const address = await server.transport.listen(`${protocol}://127.0.0.1:0`)
    const impostor = NodeId.fromBytes(new Uint8Array(32).fill(9))
    await expect(client.transport.dial(address, { expectedPeer: impostor })).rejects.toMatchObject({
      code: 'PEER_ID_MISMATCH',
    })
    expect(client.transport.connectedPeers()).toHaveLength(0)
  })
})
