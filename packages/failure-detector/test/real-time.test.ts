/**
 * Goal: the driver works on real time — `systemClock` timers and asynchronous delivery — not only on
 * the simulator's virtual clock. Method: three FailureDetectorNodes joined by a minimal in-process
 * Transport that delivers on the next macrotask; one stops, and we wait (on events, no fixed sleeps)
 * for the others to report it failed and then dead. Timing claims live in the benchmark, not here.
 */
import { Emitter, SEND_OK, SeededRandom, TransportError, systemClock } from '@socketcloud/core'
import type { NodeId, SendResult, Transport, TransportEvents } from '@socketcloud/core'
import { describe, expect, it, vi } from 'vitest'
import { FailureDetectorNode } from '../src/index'
import { testNodeIds } from './support/cluster'

/** Just enough of a Transport for the driver: every peer is "connected", delivery is asynchronous. */
class LoopbackTransport implements Transport {
  readonly events = new Emitter<TransportEvents>()
  closed = false

  constructor(
    readonly localId: NodeId,
    private readonly peers: Map<string, LoopbackTransport>,
  ) {
    peers.set(localId.hex, this)
  }

  listen(): Promise<string> {
    return Promise.resolve(`mem://${this.localId.toShortString()}`)
  }
  listenAddresses(): readonly string[] {
    return []
  }
  dial(): Promise<NodeId> {
    return Promise.reject(new TransportError('PEER_UNREACHABLE', 'loopback transport does not dial'))
  }
  send(peer: NodeId, bytes: Uint8Array): SendResult {
    const target = this.peers.get(peer.hex)
    if (this.closed || !target || target.closed) {
      return { ok: false, error: new TransportError('PEER_UNREACHABLE', 'peer is gone', { peer: peer.hex }) }
    }
    setImmediate(() => {
      if (!target.closed) target.events.emit('message', { from: this.localId, bytes })
    })
    return SEND_OK
  }
  connectedPeers(): readonly NodeId[] {
    return [...this.peers.values()]
      .filter((peer) => peer !== this && !peer.closed)
      .map((peer) => peer.localId)
  }
  hangUp(): Promise<void> {
    return Promise.resolve()
  }
  close(): Promise<void> {
    this.closed = true
    return Promise.resolve()
  }
}

describe('FailureDetectorNode on systemClock', () => {
  it('reports a stopped peer failed and then dead, in real time', async () => {
    const ids = testNodeIds(3, 99)
    const peers = new Map<string, LoopbackTransport>()
    const transports = ids.map((id) => new LoopbackTransport(id, peers))
    const nodes = transports.map(
      (transport, index) =>
        new FailureDetectorNode(
          { transport, clock: systemClock, random: new SeededRandom(index), members: ids },
          // Short periods keep the test quick; the protocol is the same at any scale.
          { heartbeatIntervalMs: 50, suspicionTimeoutMs: 300, detector: { acceptableHeartbeatPauseMs: 200 } },
        ),
    )
    const failedBy = new Set<string>()
    const deadBy = new Set<string>()
    // A loaded test machine can stall the event loop; only what happens after the stop is judged.
    let stopped = false
    nodes.forEach((node, index) => {
      node.events.on('level', (event) => {
        if (stopped && event.to === 'failed' && event.peer.equals(ids[2]!)) failedBy.add(ids[index]!.hex)
      })
      node.events.on('status', (event) => {
        if (stopped && event.to === 'dead' && event.member.equals(ids[2]!)) deadBy.add(ids[index]!.hex)
      })
    })
    try {
      for (const node of nodes) node.start()
      // Wait until every node has heard from every peer, then stop the third node.
      await vi.waitFor(
        () => {
          for (const node of nodes) {
            for (const peer of node.membership.monitoredPeers()) {
              expect(node.membership.phi(peer, systemClock.now())).toBeLessThan(1)
            }
          }
          expect(nodes[0]!.membership.stats.acksReceived).toBeGreaterThan(10)
        },
        { timeout: 5_000, interval: 20 },
      )
      stopped = true
      nodes[2]!.stop()
      await transports[2]!.close()
      await vi.waitFor(() => expect(deadBy.size).toBe(2), { timeout: 10_000, interval: 20 })
      expect([...failedBy].sort()).toEqual([ids[0]!.hex, ids[1]!.hex].sort())
    } finally {
      for (const node of nodes) node.stop()
    }
  })
})
