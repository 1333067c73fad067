import type { Emitter } from './emitter'
import type { TransportError } from './errors'
import type { NodeId } from './node-id'

/** Outcome of `Transport.send`. Not an exception: a full queue is an everyday condition. */
export type SendResult = { readonly ok: true } | { readonly ok: false; readonly error: TransportError }
export const SEND_OK: SendResult = Object.freeze({ ok: true })

export type ConnectionDirection = 'inbound' | 'outbound'

/** Events every Transport emits. */
export interface TransportEvents {
  /** One whole message (a frame or datagram payload) from an identified peer. */
  message: { readonly from: NodeId; readonly bytes: Uint8Array }
  /** A connection to `peer` is open and upgraded; `send` to it will now be accepted. */
  'peer:connect': { readonly peer: NodeId; readonly address: string; readonly direction: ConnectionDirection }
  /** The last connection to `peer` closed; `error` says why when it was not a clean close. */
  'peer:disconnect': { readonly peer: NodeId; readonly error?: TransportError }
  /** An outbound connection is being re-established after `delayMs` (attempt counts from 1). */
  'peer:reconnecting': { readonly peer: NodeId; readonly attempt: number; readonly delayMs: number }
  /** The send queue to `peer` drained below its low-water mark after `send` reported BACKPRESSURE. */
  drain: { readonly peer: NodeId }
  /**
   * Something was refused at the boundary: a bad frame, an oversized datagram, a failed handshake,
   * a connection beyond the maximum. The offending connection is already closed; others carry on.
   */
  error: { readonly error: TransportError; readonly peer?: NodeId; readonly address?: string }
}

export interface DialOptions {
  /** Refuse the connection unless the remote proves this identity (checked by the upgrader). */
  readonly expectedPeer?: NodeId
  readonly signal?: AbortSignal
}

/**
 * Moves bytes between nodes. Implemented by `@socketcloud/transport` (TCP, UDP, WebSocket, in-memory,
 * and the TransportManager that combines them) and by the simulator's network. Called by drivers
 * (consensus runtime, failure detector, DHT, CRDT sync), which encode messages with the Codec.
 *
 * Contract:
 * - Messages to one peer arrive in the order sent while one connection lasts (UDP and the simulator
 *   may reorder or drop when configured to; stream transports never do).
 * - `send` never blocks and never grows a buffer past its limits: when the per-peer queue is full it
 *   returns `BACKPRESSURE` and emits `drain` later. A message larger than the frame limit returns
 *   `FRAME_TOO_LARGE`. No connection returns `PEER_UNREACHABLE` (dial first, or rely on reconnect).
 * - Every inbound byte is untrusted; a transport validates framing and identity and emits `error`
 *   for what it refuses, never throws into the caller.
 * - `close()` stops listening, drains queued messages where possible and closes every connection.
 */
export interface Transport {
  /** This node's identity, as it presents itself to peers. */
  readonly localId: NodeId
  readonly events: Emitter<TransportEvents>
  /** Starts listening; resolves with the bound address (a real port when `:0` was asked). */
  listen(address: string): Promise<string>
  /** Addresses currently listened on. */
  listenAddresses(): readonly string[]
  /** Connects to `address` (reusing a live connection to the same peer) and resolves with the peer's id. */
  dial(address: string, options?: DialOptions): Promise<NodeId>
  /** Queues `bytes` for `peer`. Ownership of `bytes` passes to the transport. */
  send(peer: NodeId, bytes: Uint8Array): SendResult
  /** Peers with a live connection. */
  connectedPeers(): readonly NodeId[]
  /** Closes one peer's connection(s) gracefully. */
  hangUp(peer: NodeId): Promise<void>
  close(): Promise<void>
}

/**
 * A framed byte channel during a connection's handshake. Implemented by stream transports for the
 * upgrader's use only; after the upgrade the transport owns the channel again.
 */
export interface HandshakeChannel {
  readonly direction: ConnectionDirection
  readonly remoteAddress: string
  /** Writes one frame. */
  send(frame: Uint8Array): void
  /** Resolves with the next frame; rejects with TransportError when the connection closes or `signal` aborts. */
  receive(signal: AbortSignal): Promise<Uint8Array>
}

/**
 * A connection after its upgrade: who the peer is, and how to turn a message into a wire frame and
 * back. For the plaintext upgrader `seal`/`open` copy bytes; for the Noise channel they encrypt.
 */
export interface SecureSession {
  readonly remotePeer: NodeId
  /** Name of the upgrade protocol that produced this session, e.g. `noise` or `plaintext`. */
  readonly protocol: string
  /** One outbound message to one frame. Throws SocketCloudError when the session must end (nonce exhaustion). */
  seal(plaintext: Uint8Array): Uint8Array
  /** One inbound frame to one message. Throws a typed error on tampering or replay; the connection is then closed. */
  open(frame: Uint8Array): Uint8Array
}

export interface UpgradeOptions {
  readonly localId: NodeId
  readonly expectedPeer?: NodeId
  readonly signal: AbortSignal
}

/**
 * Runs right after connect/accept, before any message. Implemented by `@socketcloud/security`
 * (Noise, mutually authenticated) and by transport's plaintext upgrader for tests. Called by stream
 * transports. Must reject with a TransportError (`HANDSHAKE_FAILED`, `PEER_ID_MISMATCH`, ...) on any
 * failure; the transport then closes the connection.
 */
export interface ConnectionUpgrader {
  readonly protocol: string
  upgrade(channel: HandshakeChannel, options: UpgradeOptions): Promise<SecureSession>
}
