import type { AddressProtocol, ConnectionDirection, PeerAddress, TransportError } from '@socketcloud/core'

/**
 * Room a secure session may add to a message when sealing it (Noise adds a 16-byte tag). Wire frames
 * may exceed `frameBytesMax` by this much, so `frameBytesMax` keeps meaning "largest message".
 */
export const SEAL_OVERHEAD_BYTES_MAX = 1024

/**
 * Room a secure session may add when sealing a message of `messageBytes`: a fixed allowance plus 32
 * bytes per 16 KiB, because record-based channels add a tag per chunk (Noise: 18 bytes per 65,519-byte
 * message, 4.6 KiB on a 16 MiB frame) and the bound must grow with the message.
 */
export function sealOverheadBytesMax(messageBytes: number): number {
  return SEAL_OVERHEAD_BYTES_MAX + Math.ceil(messageBytes / 16_384) * 32
}

/**
 * What a link reports to its owner (a Connection). The driver calls these from I/O callbacks;
 * `closed` is called exactly once and nothing is called after it.
 */
export interface LinkHandlers {
  /** One whole inbound frame. The view is only valid during the call; copy to keep it. */
  frame(body: Uint8Array): void
  /** A keepalive arrived; it carries nothing but proof of life. */
  keepalive(): void
  /** The socket's own buffer drained; queued frames may be written again. */
  writable(): void
  /** The peer will send nothing more; finish writing what is queued, then end. */
  ended(): void
  /** The link closed: cleanly when `error` is undefined. */
  closed(error: TransportError | undefined): void
}

/**
 * A framed, ordered byte channel to one remote endpoint, as a driver (TCP, WebSocket, in-memory)
 * provides it. Links know nothing of identities, sessions or queues; the Connection that owns one
 * does. A link never buffers more than the frames it was asked to write.
 */
export interface Link {
  readonly protocol: AddressProtocol
  readonly direction: ConnectionDirection
  /** The remote endpoint as an address string, for logs and errors. */
  readonly remoteAddress: string
  /** Writes frames in order, as one batch where the medium allows. */
  writeFrames(frames: readonly Uint8Array[], bytes: number): void
  writeKeepalive(): void
  /** Bytes handed to the medium but not yet sent. */
  bufferedBytes(): number
  /** Stops / restarts reading (used to bound what arrives while a handshake runs). */
  pause(): void
  resume(): void
  /** Closes after everything written so far is sent. */
  end(): void
  /** Closes now; `error` is what the link reports through `closed`. */
  destroy(error?: TransportError): void
}

export interface ListenerHandle {
  /** The bound address, with the real port. */
  readonly address: string
  /** Stops accepting; connections already accepted are the owner's to close. */
  close(): Promise<void>
}

/**
 * Accepts an inbound link: returns its handlers, or undefined to refuse it (the driver then closes
 * it). Called synchronously before the link delivers any event.
 */
export type AcceptLink = (link: Link) => LinkHandlers | undefined

export interface LinkDriver {
  readonly protocols: readonly AddressProtocol[]
  listen(address: PeerAddress, accept: AcceptLink): Promise<ListenerHandle>
  /**
   * Connects; resolves with a link once it is open, rejects with TransportError otherwise. Events go
   * to `handlers` from the moment the promise resolves.
   */
  dial(address: PeerAddress, handlers: LinkHandlers, signal: AbortSignal): Promise<Link>
}

/** Settings drivers need from the transport options. */
export interface LinkLimits {
  /** Largest inbound wire frame: frameBytesMax plus SEAL_OVERHEAD_BYTES_MAX. */
  readonly wireFrameBytesMax: number
  /** Largest bytes buffered in the medium before writes wait for `writable`. */
  readonly socketBufferBytesMax: number
}
