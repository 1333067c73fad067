import { NodeId, type Metrics, type Transport, type TransportEvents } from '@socketcloud/core'
import type { MemoryNetwork } from '../src/index'
import { PlaintextUpgrader, TransportManager, type TransportManagerInit } from '../src/index'

let nextIdByte = 1

/** A fresh NodeId per call; `first` forces its leading byte (tie-break tests need an order). */
export function testNodeId(first?: number): NodeId {
  const bytes = new Uint8Array(32)
  const serial = nextIdByte++
  bytes[0] = first ?? 0x40
  bytes[1] = serial >> 8
  bytes[2] = serial & 0xff
  bytes[31] = 0x5c
  return NodeId.fromBytes(bytes)
}

export const upgrader = new PlaintextUpgrader()

/** Fast liveness settings so reconnect tests finish in a second or two. */
export const fastReconnect: TransportManagerInit = {
  reconnectDelayInitialMs: 20,
  reconnectDelayMaxMs: 200,
  dialTimeoutMs: 2_000,
  handshakeTimeoutMs: 2_000,
}

export interface Node {
  readonly transport: TransportManager
  readonly id: NodeId
  readonly inbox: { from: NodeId; bytes: Uint8Array }[]
  readonly errors: TransportEvents['error'][]
}

export function createNode(
  init: TransportManagerInit = {},
  id = testNodeId(),
  memoryNetwork?: MemoryNetwork,
  metrics?: Metrics,
): Node {
  const transport = new TransportManager(
    { localId: id, upgrader, ...(memoryNetwork ? { memoryNetwork } : {}), ...(metrics ? { metrics } : {}) },
    { ...fastReconnect, ...init },
  )
  const inbox: Node['inbox'] = []
  const errors: Node['errors'] = []
  transport.events.on('message', (event) => inbox.push(event))
  transport.events.on('error', (event) => errors.push(event))
  return { transport, id, inbox, errors }
}

/** Resolves with the next `event` satisfying `filter`. */
export function nextEvent<K extends keyof TransportEvents>(
  transport: Transport,
  event: K,
  filter: (value: TransportEvents[K]) => boolean = () => true,
): Promise<TransportEvents[K]> {
  return new Promise((resolve) => {
    const off = transport.events.on(event, (value) => {
      if (!filter(value)) return
      off()
      resolve(value)
    })
  })
}

/** Sends every message in order, waiting for `drain` whenever the transport reports BACKPRESSURE. */
export async function sendAll(
  transport: Transport,
  peer: NodeId,
  messages: Iterable<Uint8Array>,
): Promise<void> {
  for (const message of messages) {
    for (;;) {
      const drained = nextEvent(transport, 'drain', (event) => event.peer.equals(peer))
      const result = transport.send(peer, message)
      if (result.ok) break
      if (result.error.code !== 'BACKPRESSURE') throw result.error
      await drained
    }
  }
}

export function counterMessage(value: number, size = 8): Uint8Array {
  const bytes = new Uint8Array(Math.max(4, size))
  new DataView(bytes.buffer).setUint32(0, value)
  return bytes
}

export function readCounter(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0)
}

export function patternBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let state = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0
    bytes[i] = state >>> 24
  }
  return bytes
}
