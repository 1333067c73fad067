/**
 * @packageDocumentation
 * TCP, UDP, WebSocket (uWebSockets.js server, `ws` client) and in-memory transports behind core's
 * `Transport` interface, and the `TransportManager` that listens on several of them at once, keeps one
 * connection per peer, reconnects with backoff and bounds every queue.
 *
 * @example
 * ```ts
 * import { NodeId } from '@socketcloud/core'
 * import { PlaintextUpgrader, TransportManager } from '@socketcloud/transport'
 *
 * const upgrader = new PlaintextUpgrader() // tests only: unauthenticated
 * const a = new TransportManager({ localId: NodeId.fromHex('aa'.repeat(32)), upgrader })
 * const b = new TransportManager({ localId: NodeId.fromHex('bb'.repeat(32)), upgrader })
 * const address = await b.listen('tcp://127.0.0.1:0')
 * b.events.on('message', ({ from, bytes }) => b.send(from, bytes)) // echo
 * const peer = await a.dial(address)
 * a.events.on('message', ({ bytes }) => console.log(new TextDecoder().decode(bytes)))
 * a.send(peer, new TextEncoder().encode('hello'))
 * ```
 */
export { TransportManager, type TransportManagerInit, type ConnectionInfo } from './manager'
export {
  TcpTransport,
  WsTransport,
  MemTransport,
  tcpTransport,
  wsTransport,
  memTransport,
  transportManager,
} from './transports'
export { UdpTransport } from './udp'
export { PlaintextUpgrader } from './plaintext'
export { MemoryNetwork, defaultMemoryNetwork } from './drivers/mem'
export type { TransportComponents } from './components'
export { resolveTransportOptions, type TransportInit, type TransportOptions } from './options'
export { SEAL_OVERHEAD_BYTES_MAX, sealOverheadBytesMax } from './link'
export {
  FrameDecoder,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FRAME_BYTES_LIMIT,
  CONTROL_KEEPALIVE,
  type FrameSink,
} from './core/frame-decoder'
export { backoffDelayMs, type BackoffPolicy } from './core/backoff'
export {
  encodeDatagram,
  decodeDatagram,
  DATAGRAM_HEADER_BYTES,
  type Datagram,
  type DatagramKind,
} from './core/datagram'
export { TransportMetrics } from './metrics'
