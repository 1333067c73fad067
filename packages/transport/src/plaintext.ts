import {
  NODE_ID_BYTES,
  NodeId,
  TransportError,
  toError,
  type ConnectionUpgrader,
  type HandshakeChannel,
  type SecureSession,
  type UpgradeOptions,
} from '@socketcloud/core'

const HELLO_MAGIC = [0x53, 0x43, 0x50, 0x01] // "SCP" + version 1
const HELLO_BYTES = HELLO_MAGIC.length + NODE_ID_BYTES

/**
 * UNAUTHENTICATED, UNENCRYPTED upgrader for tests and trusted single-host setups. Each side sends a
 * hello frame carrying its NodeId and believes the id the other side claims: anyone who can connect
 * can impersonate any node and read every message. Production meshes use the Noise upgrader from
 * `@socketcloud/security`. `expectedPeer` is still checked, which catches misdirected dials, not
 * attackers. `seal`/`open` copy bytes, so ownership works exactly as with an encrypting session.
 */
export class PlaintextUpgrader implements ConnectionUpgrader {
  readonly protocol = 'plaintext-unauthenticated'

  async upgrade(channel: HandshakeChannel, options: UpgradeOptions): Promise<SecureSession> {
    const hello = new Uint8Array(HELLO_BYTES)
    hello.set(HELLO_MAGIC, 0)
    hello.set(options.localId.bytes, HELLO_MAGIC.length)
    channel.send(hello)
    const reply = await channel.receive(options.signal)
    const remotePeer = parseHello(reply, channel.remoteAddress)
    if (options.expectedPeer && !options.expectedPeer.equals(remotePeer)) {
      throw new TransportError(
        'PEER_ID_MISMATCH',
        `peer at ${channel.remoteAddress} is not the expected node`,
        {
          expected: options.expectedPeer.toShortString(),
          actual: remotePeer.toShortString(),
          address: channel.remoteAddress,
        },
      )
    }
    return new PlaintextSession(remotePeer, this.protocol)
  }
}

function parseHello(frame: Uint8Array, address: string): NodeId {
  const magicMatches = HELLO_MAGIC.every((byte, index) => frame[index] === byte)
  if (frame.length !== HELLO_BYTES || !magicMatches) {
    throw new TransportError('HANDSHAKE_FAILED', `peer at ${address} sent an invalid plaintext hello`, {
      address,
      length: frame.length,
    })
  }
  try {
    return NodeId.fromBytes(frame.subarray(HELLO_MAGIC.length))
  } catch (thrown) {
    throw new TransportError(
      'HANDSHAKE_FAILED',
      `peer at ${address} sent an invalid node id`,
      { address },
      {
        cause: toError(thrown),
      },
    )
  }
}

class PlaintextSession implements SecureSession {
  constructor(
    readonly remotePeer: NodeId,
    readonly protocol: string,
  ) {}

  seal(plaintext: Uint8Array): Uint8Array {
    return plaintext.slice()
  }

  open(frame: Uint8Array): Uint8Array {
    return frame.slice()
  }
}
