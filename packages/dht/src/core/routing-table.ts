import { assert } from '@socketcloud/core'
import type { NodeId } from '@socketcloud/core'
import type { Contact } from './contact'
import { ID_BITS, commonPrefixLength, compareDistance } from './distance'

interface Entry {
  contact: Contact
  /** Consecutive requests it failed to answer; reset by any valid message from it. */
  failures: number
  lastSeenMs: number
}

interface Bucket {
  /** Least recently seen first, as in the paper: the head is the eviction candidate. */
  readonly entries: Entry[]
  /** Contacts seen while the bucket was full, newest last; promoted when an entry is dropped. */
  readonly replacements: Contact[]
  /** The head is being pinged to decide whether a newcomer may take its place. */
  evictionPingInFlight: boolean
  /**
   * Refresh clock: last time a lookup of ours targeted this bucket's range or, when traffic counts,
   * a node in the range sent us a request or answered one of ours.
   */
  lastActiveMs: number
}

/** What `observe` did, and whether the caller must ping the head of a full bucket. */
export type ObserveOutcome =
  | { readonly kind: 'added' | 'updated' | 'self' }
  | { readonly kind: 'cached'; readonly pingTarget: Contact | undefined }

export interface BucketState {
  readonly index: number
  readonly size: number
  readonly lastActiveMs: number
}

/**
 * Kademlia k-buckets over 256-bit ids. Bucket `i` holds contacts sharing exactly `i` leading bits
 * with the local id. A newcomer to a full bucket waits in the replacement cache while the least
 * recently seen entry is pinged (if it has not been heard from within `contactFreshMs`, as
 * BitTorrent's DHT does for "questionable" nodes); only if that ping fails is the old entry dropped
 * and the newest replacement promoted. Long-lived contacts are thus preferred, which is what makes the table hard
 * to flood with fresh identities.
 */
export class RoutingTable {
  private readonly buckets: (Bucket | undefined)[] = new Array<Bucket | undefined>(ID_BITS).fill(undefined)
  private readonly byId = new Map<string, { bucket: Bucket; entry: Entry }>()

  constructor(
    readonly localId: NodeId,
    private readonly k: number,
    private readonly replacementCacheSizeMax: number,
    private readonly contactFailuresMax: number,
    private readonly createdAtMs: number,
    /** A head heard from within this long is presumed alive and not pinged to make room. */
    private readonly contactFreshMs: number = 0,
  ) {
    assert(k >= 1, 'k must be positive')
  }

  get size(): number {
    return this.byId.size
  }

  has(id: NodeId): boolean {
    return this.byId.has(id.hex)
  }

  get(id: NodeId): Contact | undefined {
    return this.byId.get(id.hex)?.entry.contact
  }

  /** Every contact, bucket by bucket (far buckets first). */
  contacts(): Contact[] {
    const out: Contact[] = []
    for (const bucket of this.buckets) if (bucket) for (const entry of bucket.entries) out.push(entry.contact)
    return out
  }

  /**
   * Notes that `contact` proved alive now (answered a request of ours, or sent a valid request).
   * Moves it to the tail of its bucket, adds it when there is room, or caches it as a replacement and
   * asks for the head to be pinged when the bucket is full.
   */
  observe(contact: Contact, nowMs: number): ObserveOutcome {
    const known = this.byId.get(contact.id.hex)
    if (known) {
      const { bucket, entry } = known
      entry.failures = 0
      entry.lastSeenMs = nowMs
      if (contact.addresses.length > 0) entry.contact = contact
      const at = bucket.entries.indexOf(entry)
      if (at !== bucket.entries.length - 1) {
        bucket.entries.splice(at, 1)
        bucket.entries.push(entry)
      }
      return { kind: 'updated' }
    }
    const index = commonPrefixLength(this.localId.bytes, contact.id.bytes)
    if (index === ID_BITS) return { kind: 'self' }
    const bucket = this.bucketAt(index)
    if (bucket.entries.length < this.k) {
      const entry: Entry = { contact, failures: 0, lastSeenMs: nowMs }
      bucket.entries.push(entry)
      this.byId.set(contact.id.hex, { bucket, entry })
      this.removeReplacement(bucket, contact.id)
      return { kind: 'added' }
    }
    if (this.replacementCacheSizeMax > 0) {
      this.removeReplacement(bucket, contact.id)
      bucket.replacements.push(contact)
      if (bucket.replacements.length > this.replacementCacheSizeMax) bucket.replacements.shift()
    }
    // Ping the head only when it is stale. Pinging on every newcomer would cascade: the ping is a
    // request from a newcomer at the receiving node, which would ping its own head, and so on.
    const head = bucket.entries[0]!
    if (bucket.evictionPingInFlight || nowMs - head.lastSeenMs < this.contactFreshMs) {
      return { kind: 'cached', pingTarget: undefined }
    }
    bucket.evictionPingInFlight = true
    return { kind: 'cached', pingTarget: head.contact }
  }

  /** The eviction ping to `id` ended: answered (the entry stays, newcomer waits) or failed (it goes; returns true). */
  evictionPingSettled(id: NodeId, answered: boolean, nowMs: number): boolean {
    const index = commonPrefixLength(this.localId.bytes, id.bytes)
    const bucket = this.buckets[index]
    if (!bucket) return false
    bucket.evictionPingInFlight = false
    const known = this.byId.get(id.hex)
    if (!known) return false
    if (answered) {
      this.observe(known.entry.contact, nowMs)
      return false
    }
    this.remove(id)
    return true
  }

  /**
   * A request to `id` failed. The contact is dropped once it failed `contactFailuresMax` times in a
   * row, or at once when a replacement is waiting to take its place. Returns whether it was dropped.
   */
  recordFailure(id: NodeId): boolean {
    const known = this.byId.get(id.hex)
    if (!known) {
      this.forgetReplacement(id)
      return false
    }
    known.entry.failures++
    if (known.entry.failures >= this.contactFailuresMax || known.bucket.replacements.length > 0) {
      this.remove(id)
      return true
    }
    return false
  }

  /** Removes `id` and promotes the newest replacement of its bucket. */
  remove(id: NodeId): void {
    const known = this.byId.get(id.hex)
    if (!known) return
    const { bucket, entry } = known
    bucket.entries.splice(bucket.entries.indexOf(entry), 1)
    this.byId.delete(id.hex)
    const promoted = bucket.replacements.pop()
    if (promoted) {
      // A promoted contact has not been heard from lately; it earns its place by answering later.
      const replacement: Entry = { contact: promoted, failures: 0, lastSeenMs: entry.lastSeenMs }
      bucket.entries.push(replacement)
      this.byId.set(promoted.id.hex, { bucket, entry: replacement })
    }
  }

  /**
   * The `count` contacts closest to `target` by XOR distance, closest first. Walks the buckets in
   * distance order instead of sorting the whole table: bucket `b = cpl(local, target)` first, then
   * every deeper bucket (all at the same top bit of distance), then buckets b-1 down to 0.
   */
  closest(target: Uint8Array, count: number): Contact[] {
    const out: Contact[] = []
    if (count <= 0) return out
    const split = Math.min(commonPrefixLength(this.localId.bytes, target), ID_BITS - 1)
    const take = (group: Entry[]): void => {
      if (group.length === 0) return
      sortByDistance(group, target)
      for (const entry of group) {
        if (out.length >= count) return
        out.push(entry.contact)
      }
    }
    take([...(this.buckets[split]?.entries ?? [])])
    if (out.length < count) {
      const deeper: Entry[] = []
      for (let i = split + 1; i < ID_BITS; i++) {
        const bucket = this.buckets[i]
        if (bucket) for (const entry of bucket.entries) deeper.push(entry)
      }
      take(deeper)
    }
    for (let i = split - 1; i >= 0 && out.length < count; i--) take([...(this.buckets[i]?.entries ?? [])])
    return out
  }

  /** Buckets worth refreshing: every non-empty one, and every empty one above the deepest non-empty. */
  bucketStates(): BucketState[] {
    let deepest = -1
    for (let i = ID_BITS - 1; i >= 0; i--) {
      if ((this.buckets[i]?.entries.length ?? 0) > 0) {
        deepest = i
        break
      }
    }
    const out: BucketState[] = []
    for (let i = 0; i <= deepest; i++) {
      const bucket = this.buckets[i]
      out.push({
        index: i,
        size: bucket?.entries.length ?? 0,
        lastActiveMs: bucket?.lastActiveMs ?? this.createdAtMs,
      })
    }
    return out
  }

  /**
   * The ranges periodic refresh walks: every bucket, except that the deepest buckets holding at most
   * k contacts together count as one range. That range is the one bucket containing our own id in
   * the paper's split-bucket table (it splits only once it holds more than k), and one lookup of a
   * random id in its shallowest bucket asks its nodes and then the nodes nearest us, which are the
   * contacts of the deeper buckets: refreshing each of them apart would repeat that lookup. A lookup
   * or traffic into any of them counts for the whole range.
   */
  refreshStates(): BucketState[] {
    const states = this.bucketStates()
    let first = states.length
    let held = 0
    while (first > 0 && held + states[first - 1]!.size <= this.k) {
      first--
      held += states[first]!.size
    }
    if (first >= states.length - 1) return states
    let lastActiveMs = Number.NEGATIVE_INFINITY
    for (let i = first; i < states.length; i++) lastActiveMs = Math.max(lastActiveMs, states[i]!.lastActiveMs)
    return [...states.slice(0, first), { index: first, size: held, lastActiveMs }]
  }

  /** A lookup of `target` ran now: the bucket covering it needs no refresh for a while. */
  markLookup(target: Uint8Array, nowMs: number): void {
    const index = commonPrefixLength(this.localId.bytes, target)
    if (index === ID_BITS) return
    this.bucketAt(index).lastActiveMs = nowMs
  }

  /**
   * A node in the range of one of our buckets sent us a valid request or answered one of ours: the
   * bucket is in use and needs no refresh for a while (Kademlia §2.3: "buckets are generally kept
   * fresh by the traffic of requests traveling through nodes"; BitTorrent's BEP 5 likewise refreshes
   * only buckets that have not changed). The node need not be, or become, one of the bucket's contacts.
   */
  markTraffic(id: NodeId, nowMs: number): void {
    const index = commonPrefixLength(this.localId.bytes, id.bytes)
    if (index === ID_BITS) return
    this.bucketAt(index).lastActiveMs = nowMs
  }

  private bucketAt(index: number): Bucket {
    let bucket = this.buckets[index]
    if (!bucket) {
      bucket = { entries: [], replacements: [], evictionPingInFlight: false, lastActiveMs: this.createdAtMs }
      this.buckets[index] = bucket
    }
    return bucket
  }

  private removeReplacement(bucket: Bucket, id: NodeId): void {
    const at = bucket.replacements.findIndex((contact) => contact.id.equals(id))
    if (at >= 0) bucket.replacements.splice(at, 1)
  }

  private forgetReplacement(id: NodeId): void {
    const index = commonPrefixLength(this.localId.bytes, id.bytes)
    const bucket = this.buckets[index]
    if (bucket) this.removeReplacement(bucket, id)
  }
}

/**
 * Sorts entries by XOR distance to `target`. Sorting on a number made of the first six bytes of the
 * distance (exact in a double) replaces most byte-by-byte comparisons; equal prefixes fall back to
 * the full comparison. This is the hot path of answering FIND_NODE.
 */
function sortByDistance(group: Entry[], target: Uint8Array): void {
  if (group.length < 2) return
  const keys = new Map<Entry, number>()
  for (const entry of group) {
    const id = entry.contact.id.bytes
    let key = 0
    for (let i = 0; i < 6; i++) key = key * 256 + (id[i]! ^ target[i]!)
    keys.set(entry, key)
  }
  group.sort(
    (a, b) => keys.get(a)! - keys.get(b)! || compareDistance(target, a.contact.id.bytes, b.contact.id.bytes),
  )
}
