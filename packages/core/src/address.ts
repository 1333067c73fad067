import { ConfigError } from './errors'
import type { NodeId } from './node-id'

export type AddressProtocol = 'tcp' | 'udp' | 'ws' | 'wss' | 'mem'
const PROTOCOLS: ReadonlySet<string> = new Set<AddressProtocol>(['tcp', 'udp', 'ws', 'wss', 'mem'])

/**
 * A peer address as a URL: `tcp://127.0.0.1:7001`, `udp://[::1]:7003`, `ws://0.0.0.0:7002/mesh`,
 * `mem://node-a`. Ports may be 0 when listening (the OS picks one; the transport reports the real
 * address). `mem://` names an in-process endpoint and has no port.
 */
export interface PeerAddress {
  readonly protocol: AddressProtocol
  /** Host without brackets (`::1`), or the endpoint name for `mem://`. */
  readonly host: string
  /** 0 for `mem://`. */
  readonly port: number
  /** Path for WebSocket addresses (`/` when absent). */
  readonly path: string
  /** Canonical string form. */
  readonly url: string
}

/** Parses and validates an address; throws ConfigError with the reason. */
export function parseAddress(address: string): PeerAddress {
  if (typeof address !== 'string' || address.length === 0 || address.length > 2048) {
    throw new ConfigError('address must be a non-empty string of at most 2048 characters', { address })
  }
  let url: URL
  try {
    url = new URL(address)
  } catch (cause) {
    throw new ConfigError(`invalid address ${JSON.stringify(address)}: not a URL`, {
      address,
      cause: String(cause),
    })
  }
  const protocol = url.protocol.replace(/:$/, '')
  if (!PROTOCOLS.has(protocol)) {
    throw new ConfigError(`unsupported address protocol '${protocol}' in ${address}`, {
      address,
      supported: [...PROTOCOLS],
    })
  }
  if (protocol === 'mem') {
    const name = url.host || url.pathname.replace(/^\/+/, '')
    if (!name) throw new ConfigError(`mem:// address needs a name: ${address}`, { address })
    return { protocol: 'mem', host: name, port: 0, path: '/', url: `mem://${name}` }
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (!host) throw new ConfigError(`address has no host: ${address}`, { address })
  // Read the port from the text: URL drops default ports (ws://h:80), and we want every port explicit.
  const explicitPort = /^[a-z]+:\/\/(?:\[[^\]]+\]|[^:/?#[\]]+):(\d{1,5})(?:[/?#]|$)/i.exec(address)
  if (!explicitPort) throw new ConfigError(`address needs an explicit port: ${address}`, { address })
  const port = Number(explicitPort[1])
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`port out of range in ${address}`, { address })
  }
  const path = protocol === 'ws' || protocol === 'wss' ? url.pathname || '/' : '/'
  const printableHost = host.includes(':') ? `[${host}]` : host
  const suffix = protocol === 'ws' || protocol === 'wss' ? (path === '/' ? '' : path) : ''
  return {
    protocol: protocol as AddressProtocol,
    host,
    port,
    path,
    url: `${protocol}://${printableHost}:${port}${suffix}`,
  }
}

export function formatAddress(address: Omit<PeerAddress, 'url'>): string {
  if (address.protocol === 'mem') return `mem://${address.host}`
  const host = address.host.includes(':') ? `[${address.host}]` : address.host
  const suffix =
    (address.protocol === 'ws' || address.protocol === 'wss') && address.path !== '/' ? address.path : ''
  return `${address.protocol}://${host}:${address.port}${suffix}`
}

/** What a node advertises about itself: its id and every address it listens on. */
export interface PeerInfo {
  readonly id: NodeId
  readonly addresses: readonly string[]
}
