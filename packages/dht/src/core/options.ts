import { DEFAULT_LIMITS, checkLimit, checkNumber } from '@socketcloud/core'

/**
 * Protocol parameters and limits of one DHT node. Every `...Max` is a hard bound with a documented
 * overflow behaviour; all are checked by `resolveDhtOptions` when a node is built.
 */
export interface DhtOptions {
  /** Bucket size and replication factor: contacts per bucket, closest nodes a lookup settles on, copies of a record. @default 20 */
  readonly k?: number
  /** Parallel requests of one lookup. @default 3 */
  readonly alpha?: number
  /** A request without a matching reply after this fails, and counts against the contact. @default 2000 */
  readonly requestTimeoutMs?: number
  /**
   * A bucket that neither a lookup of ours into its range nor (see `trafficRefreshesBuckets`) traffic
   * from it touched for this long is refreshed by a lookup of a random id in it. @default 3_600_000
   */
  readonly refreshIntervalMs?: number
  /**
   * Whether traffic keeps a bucket fresh: a valid request from, or an answer of, any node in a
   * bucket's range resets its refresh clock like a lookup of ours into the range (Kademlia §2.3;
   * BEP 5). Off, only our own lookups do, and a quiet network makes every node refresh every bucket
   * each interval (about k + α requests per bucket). @default true
   */
  readonly trafficRefreshesBuckets?: boolean
  /** Records this node published are stored again at the k closest nodes this often. @default 3_600_000 */
  readonly republishIntervalMs?: number
  /**
   * Records held for others are pushed again to the k closest nodes this often, unless a STORE for them
   * arrived within the interval (the original paper's optimisation). @default 3_600_000
   */
  readonly replicateIntervalMs?: number
  /** How often the driver calls `tick` for refresh, republish and expiry (request timeouts are exact). @default 10_000 */
  readonly maintenanceIntervalMs?: number
  /** Contacts waiting in each bucket's replacement cache; the oldest is forgotten beyond it. @default 20 (k) */
  readonly replacementCacheSizeMax?: number
  /**
   * A contact heard from within this long is presumed alive: a newcomer to its full bucket waits in
   * the replacement cache without pinging it. @default 900_000 (15 min, as BitTorrent's DHT)
   */
  readonly contactFreshMs?: number
  /** Consecutive failed requests after which a contact is dropped even with no replacement waiting. @default 2 */
  readonly contactFailuresMax?: number
  /** Records held for others; a STORE of a new key beyond it is refused with `RECORDS_FULL`. @default 10_000 */
  readonly recordsMax?: number
  /** Largest record value; a larger one is refused (locally with LimitExceededError, remotely with `OVERSIZED`). @default 8192 */
  readonly recordValueBytesMax?: number
  /** Longest lifetime a record may claim; records expiring later are refused (no permanent squatting). @default 172_800_000 (48 h) */
  readonly recordTtlMsMax?: number
  /** Requests one peer may make per second (token bucket, burst of the same size); beyond it requests are dropped and counted. @default 50 */
  readonly requestsPerSecondPerPeerMax?: number
  /** Peers whose request rate is tracked; the least recently seen is forgotten beyond it. @default 4096 */
  readonly rateLimitedPeersMax?: number
  /** Requests this node has outstanding; a lookup waits for room, a ping or store beyond it is skipped. @default 1024 */
  readonly inflightRequestsMax?: number
  /** Lookups (and puts) running at once; more are refused with LimitExceededError. @default 256 */
  readonly lookupsMax?: number
  /** Addresses a contact may advertise; extra ones are refused as malformed. @default 4 */
  readonly addressesPerContactMax?: number
  /** Characters in one advertised address. @default 256 */
  readonly addressLengthMax?: number
  /** Largest encoded DHT message accepted or produced. @default 60_000 (fits one UDP datagram) */
  readonly messageBytesMax?: number
}

export interface ResolvedDhtOptions {
  readonly k: number
  readonly alpha: number
  readonly requestTimeoutMs: number
  readonly refreshIntervalMs: number
  readonly trafficRefreshesBuckets: boolean
  readonly republishIntervalMs: number
  readonly replicateIntervalMs: number
  readonly maintenanceIntervalMs: number
  readonly replacementCacheSizeMax: number
  readonly contactFailuresMax: number
  readonly contactFreshMs: number
  readonly recordsMax: number
  readonly recordValueBytesMax: number
  readonly recordTtlMsMax: number
  readonly requestsPerSecondPerPeerMax: number
  readonly rateLimitedPeersMax: number
  readonly inflightRequestsMax: number
  readonly lookupsMax: number
  readonly addressesPerContactMax: number
  readonly addressLengthMax: number
  readonly messageBytesMax: number
}

const HOUR_MS = 3_600_000

export function resolveDhtOptions(options: DhtOptions = {}): ResolvedDhtOptions {
  const k = checkLimit('k', options.k ?? 20, 1, 64)
  const messageBytesMax = checkLimit(
    'messageBytesMax',
    options.messageBytesMax ?? 60_000,
    1024,
    DEFAULT_LIMITS.envelopeBytesMax,
  )
  const recordValueBytesMax = checkLimit('recordValueBytesMax', options.recordValueBytesMax ?? 8192, 1)
  // A record travels inside one message, so its value must leave room for the envelope and signature.
  checkLimit('recordValueBytesMax', recordValueBytesMax, 1, messageBytesMax - 512)
  return {
    k,
    alpha: checkLimit('alpha', options.alpha ?? 3, 1, 16),
    requestTimeoutMs: checkNumber('requestTimeoutMs', options.requestTimeoutMs ?? 2000, 1),
    refreshIntervalMs: checkNumber('refreshIntervalMs', options.refreshIntervalMs ?? HOUR_MS, 1),
    trafficRefreshesBuckets: options.trafficRefreshesBuckets ?? true,
    republishIntervalMs: checkNumber('republishIntervalMs', options.republishIntervalMs ?? HOUR_MS, 1),
    replicateIntervalMs: checkNumber('replicateIntervalMs', options.replicateIntervalMs ?? HOUR_MS, 1),
    maintenanceIntervalMs: checkNumber('maintenanceIntervalMs', options.maintenanceIntervalMs ?? 10_000, 1),
    replacementCacheSizeMax: checkLimit('replacementCacheSizeMax', options.replacementCacheSizeMax ?? k, 0),
    contactFreshMs: checkNumber('contactFreshMs', options.contactFreshMs ?? 900_000),
    contactFailuresMax: checkLimit('contactFailuresMax', options.contactFailuresMax ?? 2, 1, 100),
    recordsMax: checkLimit('recordsMax', options.recordsMax ?? 10_000, 0),
    recordValueBytesMax,
    recordTtlMsMax: checkNumber('recordTtlMsMax', options.recordTtlMsMax ?? 48 * HOUR_MS, 1),
    requestsPerSecondPerPeerMax: checkLimit(
      'requestsPerSecondPerPeerMax',
      options.requestsPerSecondPerPeerMax ?? 50,
    ),
    rateLimitedPeersMax: checkLimit('rateLimitedPeersMax', options.rateLimitedPeersMax ?? 4096),
    inflightRequestsMax: checkLimit('inflightRequestsMax', options.inflightRequestsMax ?? 1024, 1),
    lookupsMax: checkLimit('lookupsMax', options.lookupsMax ?? 256, 1),
    addressesPerContactMax: checkLimit('addressesPerContactMax', options.addressesPerContactMax ?? 4, 1, 64),
    addressLengthMax: checkLimit('addressLengthMax', options.addressLengthMax ?? 256, 8, 2048),
    messageBytesMax,
  }
}
