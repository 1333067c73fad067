import { ConfigError, NodeId, parseAddress } from '@socketcloud/core'

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** A founding member other than this node: its NodeId and node-to-node address. */
export interface PeerSpec {
  readonly id: string
  readonly address: string
}

export interface NodeConfig {
  /** Where the identity, the Raft log and snapshots live. */
  readonly dataDir: string
  /** Node-to-node listen address (`tcp://host:port`). */
  readonly listen: string
  /** Address the other members dial; defaults to the bound listen address. */
  readonly advertise: string | undefined
  readonly http: { readonly host: string; readonly port: number }
  /** Founding members other than this node (`<node id hex>@tcp://host:port`). */
  readonly peers: readonly PeerSpec[]
  /** API URL of any member of an existing cluster: join it as a learner, then become a voter. */
  readonly join: string | undefined
  /** Capability token for the join requests when the cluster has access control on (`cluster/admin`). */
  readonly joinToken: string | undefined
  /** When set, every API call but /health needs a capability token rooted in this ed25519 key (hex). */
  readonly rootPublicKey: string | undefined
  readonly logLevel: LogLevel
  readonly tickIntervalMs: number
  readonly electionTimeoutTicks: number
  readonly heartbeatTicks: number
  readonly requestTimeoutMs: number
  readonly snapshotIntervalEntries: number
  /** How long SIGTERM waits for in-flight requests before closing. */
  readonly drainTimeoutMs: number
  readonly heartbeatIntervalMs: number
}

export const NODE_DEFAULTS = {
  dataDir: '.socketcloud/node',
  listen: 'tcp://127.0.0.1:7000',
  http: '127.0.0.1:7070',
  logLevel: 'info',
  // 50 ms ticks and a 6-tick election timeout: followers notice a dead leader after 300–600 ms,
  // so a new leader serves writes within a second of a crash.
  tickIntervalMs: 50,
  electionTimeoutTicks: 6,
  heartbeatTicks: 1,
  requestTimeoutMs: 5_000,
  snapshotIntervalEntries: 100_000,
  drainTimeoutMs: 5_000,
  heartbeatIntervalMs: 100,
} as const

/** One layer of settings, as read from a file, the environment or flags; later layers win. */
export type ConfigLayer = Partial<Record<keyof typeof SETTINGS, unknown>>

const SETTINGS = {
  dataDir: 'SOCKETCLOUD_DATA_DIR',
  listen: 'SOCKETCLOUD_LISTEN',
  advertise: 'SOCKETCLOUD_ADVERTISE',
  http: 'SOCKETCLOUD_HTTP',
  peers: 'SOCKETCLOUD_PEERS',
  join: 'SOCKETCLOUD_JOIN',
  joinToken: 'SOCKETCLOUD_JOIN_TOKEN',
  rootPublicKey: 'SOCKETCLOUD_ROOT_PUBLIC_KEY',
  logLevel: 'SOCKETCLOUD_LOG_LEVEL',
  tickIntervalMs: 'SOCKETCLOUD_TICK_INTERVAL_MS',
  electionTimeoutTicks: 'SOCKETCLOUD_ELECTION_TIMEOUT_TICKS',
  heartbeatTicks: 'SOCKETCLOUD_HEARTBEAT_TICKS',
  requestTimeoutMs: 'SOCKETCLOUD_REQUEST_TIMEOUT_MS',
  snapshotIntervalEntries: 'SOCKETCLOUD_SNAPSHOT_INTERVAL_ENTRIES',
  drainTimeoutMs: 'SOCKETCLOUD_DRAIN_TIMEOUT_MS',
  heartbeatIntervalMs: 'SOCKETCLOUD_HEARTBEAT_INTERVAL_MS',
} as const

export const CONFIG_KEYS = Object.keys(SETTINGS) as (keyof typeof SETTINGS)[]
export const ENVIRONMENT_VARIABLES: Readonly<Record<string, string>> = SETTINGS

/** Reads the `SOCKETCLOUD_*` variables into a layer. */
export function environmentLayer(env: Readonly<Record<string, string | undefined>>): ConfigLayer {
  const layer: Record<string, unknown> = {}
  for (const key of CONFIG_KEYS) {
    const value = env[SETTINGS[key]]
    if (value !== undefined && value !== '') layer[key] = value
  }
  return layer
}

/** Validates a JSON config file's content into a layer; unknown keys are refused (a typo is an error). */
export function fileLayer(content: unknown, path: string): ConfigLayer {
  if (typeof content !== 'object' || content === null || Array.isArray(content)) {
    throw new ConfigError(`${path}: the config file must hold a JSON object`, { path })
  }
  const unknown = Object.keys(content).filter((key) => !(CONFIG_KEYS as string[]).includes(key))
  if (unknown.length > 0) {
    throw new ConfigError(
      `${path}: unknown setting(s) ${unknown.join(', ')}; known: ${CONFIG_KEYS.join(', ')}`,
      {
        path,
        unknown,
      },
    )
  }
  return content as ConfigLayer
}

/**
 * Merges the layers (defaults < file < environment < flags) and validates the result. Every problem
 * is reported at once, each naming the setting, so a bad start says everything that is wrong.
 */
export function resolveNodeConfig(...layers: ConfigLayer[]): NodeConfig {
  const merged: ConfigLayer = { ...NODE_DEFAULTS }
  for (const layer of layers) {
    for (const key of CONFIG_KEYS) if (layer[key] !== undefined) merged[key] = layer[key]
  }
  const problems: string[] = []
  const read = <T>(key: keyof typeof SETTINGS, parse: (value: unknown) => T): T | undefined => {
    try {
      return parse(merged[key])
    } catch (thrown) {
      problems.push(`${key} (${SETTINGS[key]}): ${thrown instanceof Error ? thrown.message : String(thrown)}`)
      return undefined
    }
  }
  const config = {
    dataDir: read('dataDir', (value) => nonEmptyString(value)),
    listen: read('listen', (value) => streamAddress(value)),
    advertise: read('advertise', (value) => (value === undefined ? undefined : streamAddress(value))),
    http: read('http', hostPort),
    peers: read('peers', parsePeers),
    join: read('join', (value) => (value === undefined ? undefined : httpUrl(value))),
    joinToken: read('joinToken', (value) => (value === undefined ? undefined : nonEmptyString(value))),
    rootPublicKey: read('rootPublicKey', (value) => (value === undefined ? undefined : hexKey(value))),
    logLevel: read('logLevel', (value) => oneOf(value, LOG_LEVELS)),
    tickIntervalMs: read('tickIntervalMs', (value) => integer(value, 1, 10_000)),
    electionTimeoutTicks: read('electionTimeoutTicks', (value) => integer(value, 2, 1_000)),
    heartbeatTicks: read('heartbeatTicks', (value) => integer(value, 1, 1_000)),
    requestTimeoutMs: read('requestTimeoutMs', (value) => integer(value, 10, 600_000)),
    snapshotIntervalEntries: read('snapshotIntervalEntries', (value) => integer(value, 1, 100_000_000)),
    drainTimeoutMs: read('drainTimeoutMs', (value) => integer(value, 0, 600_000)),
    heartbeatIntervalMs: read('heartbeatIntervalMs', (value) => integer(value, 10, 60_000)),
  }
  if (
    config.heartbeatTicks !== undefined &&
    config.electionTimeoutTicks !== undefined &&
    config.heartbeatTicks >= config.electionTimeoutTicks
  ) {
    problems.push('heartbeatTicks must be below electionTimeoutTicks')
  }
  if (config.join !== undefined && config.peers !== undefined && config.peers.length > 0) {
    problems.push('join and peers exclude each other: a joining node learns the members from the cluster')
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  - ${problems.join('\n  - ')}`, { problems })
  }
  return config as NodeConfig
}

function nonEmptyString(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new Error('must be a non-empty string')
  return value
}

function streamAddress(value: unknown): string {
  const address = parseAddress(nonEmptyString(value))
  if (address.protocol !== 'tcp' && address.protocol !== 'ws') {
    throw new Error(`must be a tcp:// or ws:// address, got ${address.protocol}://`)
  }
  return address.url
}

function hostPort(value: unknown): { host: string; port: number } {
  const text = nonEmptyString(value)
  const colon = text.lastIndexOf(':')
  if (colon <= 0) throw new Error(`must be host:port, got ${JSON.stringify(text)}`)
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1')
  return { host, port: integer(text.slice(colon + 1), 0, 65_535) }
}

function httpUrl(value: unknown): string {
  const text = nonEmptyString(value)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new Error(`must be an http:// URL, got ${JSON.stringify(text)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error('must be an http:// or https:// URL')
  return url.origin
}

function hexKey(value: unknown): string {
  const text = nonEmptyString(value).toLowerCase()
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error('must be 32 bytes in hex (64 characters)')
  return text
}

function integer(value: unknown, min: number, max: number): number {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw new Error(`must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`)
  }
  return number
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new Error(`must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`)
  }
  return value as T
}

/** `id@address` pairs, comma-separated in a string or as an array. */
export function parsePeers(value: unknown): PeerSpec[] {
  if (value === undefined) return []
  const items =
    typeof value === 'string'
      ? value
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== '')
      : value
  if (!Array.isArray(items)) throw new Error('must be a list of <node id hex>@tcp://host:port')
  const peers = items.map((item: unknown) => {
    if (typeof item !== 'string') throw new Error('each peer must be a string <node id hex>@tcp://host:port')
    const at = item.indexOf('@')
    if (at < 0) throw new Error(`peer ${JSON.stringify(item)} must be <node id hex>@tcp://host:port`)
    const id = item.slice(0, at).toLowerCase()
    try {
      NodeId.fromHex(id)
    } catch {
      throw new Error(
        `peer ${JSON.stringify(item)}: ${JSON.stringify(id)} is not a node id (64 hex characters)`,
      )
    }
    return { id, address: streamAddress(item.slice(at + 1)) }
  })
  if (new Set(peers.map((peer) => peer.id)).size !== peers.length) throw new Error('a peer is listed twice')
  return peers
}
