import { assert } from '@socketcloud/core'

/**
 * The leader's view of one follower (etcd's Progress):
 * - `probe`: we do not know where the follower's log matches; one append at a time, waiting for
 *   the answer before the next;
 * - `replicate`: the follower's log matches through `match`; appends are pipelined optimistically,
 *   up to `inflightMessagesMax` unacknowledged messages;
 * - `snapshot`: the follower needs entries we compacted; we stream it the snapshot in chunks.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot'

export class Progress {
  match = 0
  next: number
  state: ProgressState = 'probe'
  /** Probe state: an append is outstanding; wait for its answer (or a heartbeat response). */
  probeSent = false
  /** Heard from since the last CheckQuorum pass. */
  recentActive = false
  /** Last index of each append in flight, oldest first. */
  private readonly inflight: number[] = []
  /** Snapshot state: index being sent, and the next byte offset to send. */
  snapshotIndex = 0
  snapshotOffset = 0
  /** Snapshot state: no chunk was acknowledged since the last heartbeat response (resend it). */
  snapshotStalled = false
  /** Heartbeat round this follower last answered. */
  roundAcked = 0

  constructor(
    next: number,
    private readonly inflightMax: number,
  ) {
    this.next = next
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.snapshotIndex + 1)
    } else {
      this.next = this.match + 1
    }
    this.state = 'probe'
    this.probeSent = false
    this.inflight.length = 0
    this.snapshotIndex = 0
    this.snapshotOffset = 0
  }

  becomeReplicate(): void {
    this.state = 'replicate'
    this.next = this.match + 1
    this.probeSent = false
    this.inflight.length = 0
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot'
    this.inflight.length = 0
    this.snapshotIndex = index
    this.snapshotOffset = 0
  }

  /** An acknowledgement that the follower matches through `index`; returns whether it was news. */
  maybeUpdate(index: number): boolean {
    let updated = false
    if (this.match < index) {
      this.match = index
      updated = true
      this.probeSent = false
    }
    this.next = Math.max(this.next, index + 1)
    return updated
  }

  /** Optimistic advance after sending entries through `last` in the replicate state. */
  sentEntries(last: number): void {
    if (this.state === 'replicate') {
      this.next = last + 1
      this.inflight.push(last)
      assert(this.inflight.length <= this.inflightMax, 'in-flight window overflow')
    } else if (this.state === 'probe') {
      this.probeSent = true
    }
  }

  /**
   * A rejection of prevIndex `rejected`, with the follower's hint of where its log may match.
   * Returns false for a stale rejection (already superseded).
   */
  maybeDecrease(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1)
    this.probeSent = false
    return true
  }

  freeInflightThrough(index: number): void {
    let count = 0
    while (count < this.inflight.length && this.inflight[count]! <= index) count++
    if (count > 0) this.inflight.splice(0, count)
  }

  freeFirstInflight(): void {
    this.inflight.shift()
  }

  inflightFull(): boolean {
    return this.inflight.length >= this.inflightMax
  }

  /** Whether sending another append must wait. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent
      case 'replicate':
        return this.inflightFull()
      case 'snapshot':
        return true
    }
  }
}
