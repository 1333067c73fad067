import { assert } from '@socketcloud/core'

export interface SendQueueLimits {
  readonly bytesMax: number
  readonly messagesMax: number
}

/**
 * A bounded FIFO of outgoing frames, counted in bytes and messages. `offer` refuses rather than
 * grows past either limit; once it has refused, `takeDrainSignal` reports (once) when the queue is
 * back under half of both limits, which is when the transport emits `drain`. The half-way low-water
 * mark keeps a sender that waits for `drain` from flapping on every single message.
 */
export class SendQueue {
  private readonly limits: SendQueueLimits
  private frames: Uint8Array[] = []
  private head = 0
  private queuedBytes = 0
  private refused = false

  constructor(limits: SendQueueLimits) {
    assert(limits.bytesMax >= 1 && limits.messagesMax >= 1, 'queue limits must be positive')
    this.limits = limits
  }

  get bytes(): number {
    return this.queuedBytes
  }

  get length(): number {
    return this.frames.length - this.head
  }

  /** True when a frame of `size` bytes would fit now. */
  fits(size: number): boolean {
    return this.length + 1 <= this.limits.messagesMax && this.queuedBytes + size <= this.limits.bytesMax
  }

  /** Queues `frame` if it fits; otherwise remembers that a sender was refused and returns false. */
  offer(frame: Uint8Array): boolean {
    if (!this.fits(frame.length)) {
      this.refused = true
      return false
    }
    this.frames.push(frame)
    this.queuedBytes += frame.length
    return true
  }

  /**
   * Queues `frame` without checking the limits. For a frame that must go out once accepted (it was
   * already sealed); the caller checked `fits` for the unsealed size, so the overshoot is bounded.
   */
  push(frame: Uint8Array): void {
    this.frames.push(frame)
    this.queuedBytes += frame.length
  }

  /** Marks that a sender was refused for a reason outside the queue (e.g. the socket buffer is full). */
  markRefused(): void {
    this.refused = true
  }

  /** Removes and returns up to `bytesBudget` bytes worth of frames (always at least one when non-empty). */
  take(bytesBudget: number): Uint8Array[] {
    const taken: Uint8Array[] = []
    let bytes = 0
    while (this.head < this.frames.length) {
      const frame = this.frames[this.head]!
      if (taken.length > 0 && bytes + frame.length > bytesBudget) break
      taken.push(frame)
      bytes += frame.length
      this.head++
    }
    this.queuedBytes -= bytes
    if (this.head === this.frames.length) {
      this.frames = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head)
      this.head = 0
    }
    assert(this.queuedBytes >= 0, 'queued bytes never go negative')
    return taken
  }

  /** Returns true once after a refusal, when the queue has fallen below its low-water mark. */
  takeDrainSignal(): boolean {
    if (!this.refused) return false
    if (this.queuedBytes > this.limits.bytesMax / 2 || this.length > this.limits.messagesMax / 2) return false
    this.refused = false
    return true
  }

  clear(): void {
    this.frames = []
    this.head = 0
    this.queuedBytes = 0
  }
}
