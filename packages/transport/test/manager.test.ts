/**
 * Goal: the TransportManager behaves as one transport over many addresses: it listens on tcp, ws,
 * mem and udp at once, dials a peer by whichever address it advertises, keeps one live connection
 * per peer even when both sides dial each other at the same moment, and validates its options.
 * Method: real sockets on 127.0.0.1 with OS-chosen ports; ids chosen so the tie-break order is known.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ConfigError, TransportError } from '@socketcloud/core'
import { MemoryNetwork, PlaintextUpgrader, TransportManager, resolveTransportOptions } from '../src/index'
import { counterMessage, createNode, nextEvent, readCounter, testNodeId, type Node } from './helpers'

let open: Node[] = []
afterEach(async () => {
  await Promise.all(open.map((node) => node.transport.close()))
  open = []
})
const memoryNetwork = new MemoryNetwork()
function node(init = {}, id = testNodeId()): Node {
  const created = createNode(init, id, memoryNetwork)
  open.push(created)
  return created
}

describe('TransportManager', () => {
  it('listens on tcp, ws, mem and udp at once and serves a peer on each', async () => {
    const hub = node()
    const addresses = [
      await hub.transport.listen('tcp://127.0.0.1:0'),
      await hub.transport.listen('ws://127.0.0.1:0'),
      await hub.transport.listen('mem://hub-multi'),
      await hub.transport.listen('udp://127.0.0.1:0'),
    ]
    expect(hub.transport.listenAddresses()).toEqual(addresses)
    hub.transport.events.on('message', ({ from, bytes }) => {
      hub.transport.send(from, bytes)
    })
    for (const [index, address] of addresses.entries()) {
      const spoke = node()
      const peer = await spoke.transport.dial(address)
      expect(peer.equals(hub.id)).toBe(true)
      const reply = nextEvent(spoke.transport, 'message')
      expect(spoke.transport.send(peer, counterMessage(index)).ok).toBe(true)
      expect(readCounter((await reply).bytes)).toBe(index)
    }
    expect(hub.transport.connectedPeers()).toHaveLength(4)
  })

  it('dialPeer uses the first usable advertised address and keeps one connection', async () => {
    const target = node()
    const wsAddress = await target.transport.listen('ws://127.0.0.1:0')
    const tcpAddress = await target.transport.listen('tcp://127.0.0.1:0')
    const dialer = node({ protocols: ['tcp'] })
    const peer = await dialer.transport.dialPeer({
      id: target.id,
      addresses: ['quic://127.0.0.1:1', wsAddress, tcpAddress],
    })
    expect(peer.equals(target.id)).toBe(true)
    const connections = dialer.transport.peerConnections(peer)
    expect(connections).toHaveLength(1)
    expect(connections[0]!.protocol).toBe('tcp') // ws is not enabled on the dialer
    // Dialing again, by either address, reuses the connection.
    await dialer.transport.dialPeer({ id: target.id, addresses: [tcpAddress] })
    await dialer.transport.dial(tcpAddress)
    expect(dialer.transport.peerConnections(peer)).toHaveLength(1)
  })

  it('dialPeer falls through dead addresses and rejects with PEER_UNREACHABLE when none answers', async () => {
    const target = node()
    const live = await target.transport.listen('tcp://127.0.0.1:0')
    const dead = node()
    const deadAddress = await dead.transport.listen('tcp://127.0.0.1:0')
    await dead.transport.close()
    const dialer = node()
    const peer = await dialer.transport.dialPeer({ id: target.id, addresses: [deadAddress, live] })
    expect(peer.equals(target.id)).toBe(true)
    const error = await dialer.transport.dialPeer({ id: testNodeId(), addresses: [deadAddress] }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    )
    expect(error).toBeInstanceOf(TransportError)
    expect((error as TransportError).code).toBe('PEER_UNREACHABLE')
  })

  it('rejects a dial whose peer is not the expected node with PEER_ID_MISMATCH', async () => {
    const target = node()
    const address = await target.transport.listen('tcp://127.0.0.1:0')
    const dialer = node()
    const error = await dialer.transport.dial(address, { expectedPeer: testNodeId() }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    )
    expect((error as TransportError).code).toBe('PEER_ID_MISMATCH')
    expect(dialer.transport.connectedPeers()).toEqual([])
  })

  it.each(['tcp', 'ws', 'mem'] as const)(
    'simultaneous dials over %s settle on the connection initiated by the smaller id, on both sides',
    async (protocol) => {
      for (let round = 0; round < 5; round++) {
        const small = node({}, testNodeId(0x10))
        const large = node({}, testNodeId(0xf0))
        const listenOn = (label: string) =>
          protocol === 'mem'
            ? `mem://tie-${label}-${round}-${Math.floor(performance.now())}`
            : `${protocol}://127.0.0.1:0`
        const smallAddress = await small.transport.listen(listenOn('small'))
        const largeAddress = await large.transport.listen(listenOn('large'))
        const [fromSmall, fromLarge] = await Promise.all([
          small.transport.dial(largeAddress),
          large.transport.dial(smallAddress),
        ])
        expect(fromSmall.equals(large.id)).toBe(true)
        expect(fromLarge.equals(small.id)).toBe(true)
        // Converges to the one connection small initiated: outbound at small, inbound at large.
        await vi.waitFor(() => {
          expect(small.transport.peerConnections(large.id).map((info) => info.direction)).toEqual([
            'outbound',
          ])
          expect(large.transport.peerConnections(small.id).map((info) => info.direction)).toEqual(['inbound'])
        })
        const atLarge = nextEvent(large.transport, 'message')
        const atSmall = nextEvent(small.transport, 'message')
        expect(small.transport.send(large.id, counterMessage(round)).ok).toBe(true)
        expect(large.transport.send(small.id, counterMessage(round + 100)).ok).toBe(true)
        expect(readCounter((await atLarge).bytes)).toBe(round)
        expect(readCounter((await atSmall).bytes)).toBe(round + 100)
      }
    },
  )

  it('refuses addresses of protocols it does not handle', async () => {
    const tcpOnly = node({ protocols: ['tcp'] })
    await expect(tcpOnly.transport.listen('ws://127.0.0.1:0')).rejects.toMatchObject({
      code: 'INVALID_ADDRESS',
    })
    await expect(tcpOnly.transport.dial('not an address')).rejects.toMatchObject({ code: 'INVALID_ADDRESS' })
  })

  it('refuses to talk to itself', async () => {
    const self = node()
    const address = await self.transport.listen('tcp://127.0.0.1:0')
    await expect(self.transport.dial(address)).rejects.toMatchObject({ code: 'HANDSHAKE_FAILED' })
  })

  it('validates limits at construction with readable ConfigErrors', () => {
    const make = (init: object) => () =>
      new TransportManager({ localId: testNodeId(), upgrader: new PlaintextUpgrader() }, init)
    expect(make({ frameBytesMax: 0 })).toThrow(ConfigError)
    expect(make({ frameBytesMax: 2 ** 31 })).toThrow(/frameBytesMax/)
    expect(make({ frameBytesMax: 1024, sendQueueBytesMax: 512 })).toThrow(/sendQueueBytesMax/)
    expect(make({ keepaliveIntervalMs: 1_000, idleTimeoutMs: 500 })).toThrow(/keepaliveIntervalMs/)
    expect(make({ reconnectDelayInitialMs: 500, reconnectDelayMaxMs: 100 })).toThrow(/reconnectDelayMaxMs/)
    expect(make({ datagramBytesMax: 70_000 })).toThrow(/datagramBytesMax/)
    expect(make({ connectionsMax: 1.5 })).toThrow(/connectionsMax/)
    expect(resolveTransportOptions()).toMatchObject({
      frameBytesMax: 16 * 1024 * 1024,
      connectionsMax: 1024,
      handshakeTimeoutMs: 10_000,
    })
  })
})
