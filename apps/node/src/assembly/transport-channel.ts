import {
  Emitter,
  type DialOptions,
  type NodeId,
  type SendResult,
  type Transport,
  type TransportEvents,
} from '@socketcloud/core'
import { peekEnvelopeType } from './envelope-type'

/**
 * One protocol's view of a shared transport: everything is delegated except inbound messages, of
 * which it sees only those whose envelope type `accepts`. Closing a channel closes nothing (the
 * transport belongs to the node), so each protocol can "own" its view as its package expects.
 */
export class TransportChannel implements Transport {
  readonly events = new Emitter<TransportEvents>()
  private readonly unsubscribers: (() => void)[] = []

  constructor(
    private readonly shared: Transport,
    accepts: (type: string | undefined) => boolean,
  ) {
    this.unsubscribers.push(
      shared.events.on('message', (event) => {
        if (accepts(peekEnvelopeType(event.bytes))) this.events.emit('message', event)
      }),
      shared.events.on('peer:connect', (event) => this.events.emit('peer:connect', event)),
      shared.events.on('peer:disconnect', (event) => this.events.emit('peer:disconnect', event)),
      shared.events.on('peer:reconnecting', (event) => this.events.emit('peer:reconnecting', event)),
      shared.events.on('drain', (event) => this.events.emit('drain', event)),
      shared.events.on('error', (event) => this.events.emit('error', event)),
    )
  }

  get localId(): NodeId {
    return this.shared.localId
  }

  listen(address: string): Promise<string> {
    return this.shared.listen(address)
  }

  listenAddresses(): readonly string[] {
    return this.shared.listenAddresses()
  }

  dial(address: string, options?: DialOptions): Promise<NodeId> {
    return this.shared.dial(address, options)
  }

  send(peer: NodeId, bytes: Uint8Array): SendResult {
    return this.shared.send(peer, bytes)
  }

  connectedPeers(): readonly NodeId[] {
    return this.shared.connectedPeers()
  }

  hangUp(peer: NodeId): Promise<void> {
    return this.shared.hangUp(peer)
  }

  /** Detaches this view; the shared transport stays open. */
  close(): Promise<void> {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe()
    return Promise.resolve()
  }
}
