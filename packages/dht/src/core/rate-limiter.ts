/**
 * Token buckets per peer: `ratePerSecond` tokens refill every second, up to a burst of the same size.
 * Tracks at most `peersMax` peers; the least recently seen is forgotten first, so the tracker itself
 * cannot be grown without bound by a stream of fresh identities.
 */
export class PeerRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedMs: number }>()

  constructor(
    private readonly ratePerSecond: number,
    private readonly peersMax: number,
  ) {}

  /** Takes one token for `peerHex` at `nowMs`; false when the peer is over its rate. */
  allow(peerHex: string, nowMs: number): boolean {
    let bucket = this.buckets.get(peerHex)
    if (bucket) {
      this.buckets.delete(peerHex)
      const refill = ((nowMs - bucket.updatedMs) * this.ratePerSecond) / 1000
      bucket.tokens = Math.min(this.ratePerSecond, bucket.tokens + Math.max(0, refill))
      bucket.updatedMs = nowMs
    } else {
      bucket = { tokens: this.ratePerSecond, updatedMs: nowMs }
      if (this.buckets.size >= this.peersMax) {
        const oldest = this.buckets.keys().next()
        if (!oldest.done) this.buckets.delete(oldest.value)
      }
    }
    // Re-inserting keeps the Map in least-recently-seen order for eviction.
    this.buckets.set(peerHex, bucket)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  get trackedPeers(): number {
    return this.buckets.size
  }
}
