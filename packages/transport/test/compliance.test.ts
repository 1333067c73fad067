/**
 * Goal: every transport in this package honours core's Transport contract, as checked by the
 * simulator's shared compliance suite. Method: run `runTransportTests` once per protocol over real
 * sockets on 127.0.0.1 with OS-chosen ports (and one in-process MemoryNetwork per test for mem://).
 */
import { runTransportTests } from '@socketcloud/sim'
import { MemoryNetwork, TransportManager, UdpTransport, type TransportManagerInit } from '../src/index'
import { testNodeId, upgrader } from './helpers'

function suite(protocol: string, listenAddress: (index: number) => string, init: TransportManagerInit = {}) {
  runTransportTests(() => {
    const memoryNetwork = new MemoryNetwork()
    const created: TransportManager[] = []
    return {
      impl: {
        create: (index) => {
          const transport = new TransportManager(
            { localId: testNodeId(), upgrader, memoryNetwork },
            { reconnect: false, ...init },
          )
          created.push(transport)
          return { transport, listenAddress: listenAddress(index) }
        },
      },
      teardown: async () => {
        await Promise.all(created.map((transport) => transport.close()))
      },
    }
  }, `Transport compliance: ${protocol}`)
}

suite('tcp', () => 'tcp://127.0.0.1:0')
suite('ws', () => 'ws://127.0.0.1:0')
suite('mem', (index) => `mem://node-${index}`)

// UDP: loopback drops datagrams when a burst overflows the receiver's socket buffer, so the send
// window is kept small enough that a burst fits; a dead address must fail within the suite's wait;
// and the large message is the largest datagram, not 1 MiB.
runTransportTests(() => {
  const created: UdpTransport[] = []
  return {
    impl: {
      create: () => {
        const transport = new UdpTransport(
          { localId: testNodeId(), upgrader },
          {
            frameBytesMax: 32 * 1024,
            sendQueueBytesMax: 64 * 1024,
            sendQueueMessagesMax: 512,
            handshakeTimeoutMs: 1_000,
            reconnect: false,
          },
        )
        created.push(transport)
        return { transport, listenAddress: 'udp://127.0.0.1:0' }
      },
      // One datagram is the largest UDP message: 65,507 bytes minus our 36-byte header.
      largeMessageBytes: 65_507 - 36,
    },
    teardown: async () => {
      await Promise.all(created.map((transport) => transport.close()))
    },
  }
}, 'Transport compliance: udp')
