import {
  TransportError,
  type ConnectionUpgrader,
  type HandshakeChannel,
  type SecureSession,
  type UpgradeOptions,
} from '@socketcloud/core'

/**
 * Wraps the secure-channel upgrader so that a connection survives its handshake only when the
 * authenticated peer is a member of the cluster (the founding members, plus every node the
 * replicated member directory has admitted since). The handshake proves who the peer is; this
 * decides whether that peer may talk to us at all.
 */
export class MemberGate implements ConnectionUpgrader {
  private readonly allowed = new Set<string>()
  private refusedCount = 0

  constructor(
    private readonly inner: ConnectionUpgrader,
    members: Iterable<string>,
  ) {
    for (const id of members) this.allowed.add(id)
  }

  get protocol(): string {
    return this.inner.protocol
  }

  /** Connections refused because the peer was not a member. */
  get refused(): number {
    return this.refusedCount
  }

  admit(id: string): void {
    this.allowed.add(id)
  }

  revoke(id: string): void {
    this.allowed.delete(id)
  }

  has(id: string): boolean {
    return this.allowed.has(id)
  }

  async upgrade(channel: HandshakeChannel, options: UpgradeOptions): Promise<SecureSession> {
    const session = await this.inner.upgrade(channel, options)
    if (!this.allowed.has(session.remotePeer.hex)) {
      this.refusedCount++
      throw new TransportError('CONNECTION_REFUSED', 'peer is not a member of this cluster', {
        peer: session.remotePeer.hex,
        remoteAddress: channel.remoteAddress,
        direction: channel.direction,
      })
    }
    return session
  }
}
