import type { TransportComponents } from './components'
import { TransportManager, type TransportManagerInit } from './manager'

type SingleProtocolInit = Omit<TransportManagerInit, 'protocols'>

/** TCP only: length-prefixed frames over `node:net`, upgraded by the configured ConnectionUpgrader. */
export class TcpTransport extends TransportManager {
  constructor(components: TransportComponents, init: SingleProtocolInit = {}) {
    super(components, { ...init, protocols: ['tcp'] })
  }
}

/** WebSocket only: uWebSockets.js server for `listen`, the `ws` package for `dial`. Binary frames only. */
export class WsTransport extends TransportManager {
  constructor(components: TransportComponents, init: SingleProtocolInit = {}) {
    super(components, { ...init, protocols: ['ws', 'wss'] })
  }
}

/** In-process only (`mem://name`), real time: for tests and single-process clusters. */
export class MemTransport extends TransportManager {
  constructor(components: TransportComponents, init: SingleProtocolInit = {}) {
    super(components, { ...init, protocols: ['mem'] })
  }
}

export const tcpTransport =
  (init: SingleProtocolInit = {}) =>
  (components: TransportComponents): TcpTransport =>
    new TcpTransport(components, init)
export const wsTransport =
  (init: SingleProtocolInit = {}) =>
  (components: TransportComponents): WsTransport =>
    new WsTransport(components, init)
export const memTransport =
  (init: SingleProtocolInit = {}) =>
  (components: TransportComponents): MemTransport =>
    new MemTransport(components, init)
export const transportManager =
  (init: TransportManagerInit = {}) =>
  (components: TransportComponents): TransportManager =>
    new TransportManager(components, init)
