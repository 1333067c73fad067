import { TransportError, type ConnectionDirection, type PeerAddress } from '@socketcloud/core'
import type { AcceptLink, Link, LinkDriver, LinkHandlers, ListenerHandle } from '../link'

const KEEPALIVE = Symbol('keepalive')
type Item = Uint8Array | typeof KEEPALIVE

/**
 * The registry `mem://` addresses resolve in: one per process by default (`defaultMemoryNetwork`),
 * or one per test when isolation matters. Names are unique while listened on.
 */
export class MemoryNetwork {
  private readonly listeners = new Map<string, AcceptLink>()
  private dialerSerial = 0

  /** @internal */
  bind(name: string, accept: AcceptLink): void {
    if (this.listeners.has(name)) {
      throw new TransportError('IO_ERROR', `mem://${name} is already listened on`, {
        address: `mem://${name}`,
      })
    }
    this.listeners.set(name, accept)
  }

  /** @internal */
  unbind(name: string, accept: AcceptLink): void {
    if (this.listeners.get(name) === accept) this.listeners.delete(name)
  }

  /** @internal */
  lookup(name: string): AcceptLink | undefined {
    return this.listeners.get(name)
  }

  /** @internal */
  nextDialerName(): string {
    return `dialer-${++this.dialerSerial}`
  }
}

export const defaultMemoryNetwork = new MemoryNetwork()

/**
 * One end of an in-process link. Writes are delivered to the other end on a later turn of the event
 * loop (setImmediate), in order, in batches, so the in-memory transport behaves like a real one:
 * asynchronous, ordered, and with bytes "in flight" that count as buffered until delivered.
 */
class MemLink implements Link {
  readonly protocol = 'mem' as const
  readonly direction: ConnectionDirection
  readonly remoteAddress: string
  other!: MemLink
  private handlers: LinkHandlers | undefined
  private outgoing: Item[] = []
  private outgoingBytes = 0
  private scheduled = false
  private ending = false
  private closedFlag = false
  private paused = false
  /** Items delivered to us while paused, in order. */
  private held: Item[] = []

  constructor(direction: ConnectionDirection, remoteAddress: string) {
    this.direction = direction
    this.remoteAddress = remoteAddress
  }

  attach(handlers: LinkHandlers): void {
    this.handlers = handlers
  }

  writeFrames(frames: readonly Uint8Array[], bytes: number): void {
    if (this.closedFlag || this.ending) return
    for (const frame of frames) this.outgoing.push(frame)
    this.outgoingBytes += bytes
    this.schedule()
  }

  writeKeepalive(): void {
    if (this.closedFlag || this.ending) return
    this.outgoing.push(KEEPALIVE)
    this.schedule()
  }

  bufferedBytes(): number {
    return this.outgoingBytes
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    const held = this.held
    this.held = []
    for (const item of held) {
      if (this.paused) {
        this.held.push(item)
        continue
      }
      this.receive(item)
    }
  }

  end(): void {
    if (this.closedFlag || this.ending) return
    this.ending = true
    this.schedule()
  }

  destroy(error?: TransportError): void {
    if (this.closedFlag) return
    this.outgoing = []
    this.outgoingBytes = 0
    this.markClosed(error)
    setImmediate(() =>
      this.other.markClosed(
        new TransportError('CONNECTION_CLOSED', 'in-memory connection reset by peer', {
          address: this.other.remoteAddress,
        }),
      ),
    )
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(this.deliver)
  }

  private readonly deliver = (): void => {
    this.scheduled = false
    if (this.closedFlag) return
    const items = this.outgoing
    this.outgoing = []
    const hadBuffered = this.outgoingBytes > 0
    this.outgoingBytes = 0
    for (const item of items) this.other.accept(item)
    if (hadBuffered) this.handlers?.writable()
    if (this.ending && this.outgoing.length === 0) {
      this.other.markEnded()
      this.markClosed(undefined)
    }
  }

  private accept(item: Item): void {
    if (this.closedFlag) return
    if (this.paused) this.held.push(item)
    else this.receive(item)
  }

  private receive(item: Item): void {
    if (item === KEEPALIVE) this.handlers?.keepalive()
    else this.handlers?.frame(item)
  }

  private markEnded(): void {
    if (this.closedFlag) return
    if (this.held.length > 0) {
      // Frames held by a pause are still ours to read; end once they are.
      setImmediate(() => this.markEnded())
      return
    }
    this.markClosed(undefined)
  }

  private markClosed(error: TransportError | undefined): void {
    if (this.closedFlag) return
    this.closedFlag = true
    this.held = []
    const handlers = this.handlers
    this.handlers = undefined
    handlers?.closed(error)
  }
}

/** Links inside one process through a MemoryNetwork. */
export class MemDriver implements LinkDriver {
  readonly protocols = ['mem'] as const
  private readonly network: MemoryNetwork

  constructor(network: MemoryNetwork) {
    this.network = network
  }

  listen(address: PeerAddress, accept: AcceptLink): Promise<ListenerHandle> {
    try {
      this.network.bind(address.host, accept)
    } catch (thrown) {
      return Promise.reject(thrown)
    }
    return Promise.resolve({
      address: address.url,
      close: () => {
        this.network.unbind(address.host, accept)
        return Promise.resolve()
      },
    })
  }

  dial(address: PeerAddress, handlers: LinkHandlers, signal: AbortSignal): Promise<Link> {
    if (signal.aborted) {
      return Promise.reject(
        new TransportError('PEER_UNREACHABLE', `dial to ${address.url} aborted`, { address: address.url }),
      )
    }
    const accept = this.network.lookup(address.host)
    if (!accept) {
      return Promise.reject(
        new TransportError('CONNECTION_REFUSED', `nothing listens on ${address.url}`, {
          address: address.url,
        }),
      )
    }
    const outbound = new MemLink('outbound', address.url)
    const inbound = new MemLink('inbound', `mem://${this.network.nextDialerName()}`)
    outbound.other = inbound
    inbound.other = outbound
    const remoteHandlers = accept(inbound)
    if (!remoteHandlers) {
      return Promise.reject(
        new TransportError('CONNECTION_REFUSED', `${address.url} refused the connection`, {
          address: address.url,
        }),
      )
    }
    inbound.attach(remoteHandlers)
    outbound.attach(handlers)
    return Promise.resolve(outbound)
  }
}
