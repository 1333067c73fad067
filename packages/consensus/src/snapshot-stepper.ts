import type { BytesInParts, Clock, SnapshotCapture, TimerHandle } from '@socketcloud/core'

/**
 * Pause between steps. Node runs a 0 ms timer after 1 ms anyway; stating it makes the simulator's
 * virtual time pass between steps as real time does, so messages interleave with them there too.
 */
const STEP_GAP_MS = 1

/**
 * Encodes a captured snapshot one step per timer turn, so committed entries, messages and I/O are
 * handled between slices instead of waiting for the whole encode. `done` gives the snapshot in the
 * pieces it was encoded in (never joined: the store writes them and the engine sends chunks of them), or
 * null when the encoding was abandoned (a snapshot from the leader replaced the state, or the runtime
 * stopped); a step that throws rejects it.
 */
export class SnapshotStepper {
  readonly done: Promise<BytesInParts | null>
  /** Steps taken so far (the encode's slices). */
  steps = 0
  private timer: TimerHandle | null = null
  private settled = false
  private resolve!: (data: BytesInParts | null) => void
  private reject!: (error: unknown) => void

  constructor(
    private readonly capture: SnapshotCapture,
    private readonly clock: Clock,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    this.step()
  }

  /** Gives the encoding up: the capture is released and `done` resolves null. No-op once settled. */
  abandon(): void {
    if (this.settled) return
    this.settled = true
    this.timer?.cancel()
    this.timer = null
    this.capture.release()
    this.resolve(null)
  }

  private readonly step = (): void => {
    this.timer = null
    if (this.settled) return
    this.steps++
    let data: BytesInParts | null
    try {
      data = this.capture.step()
    } catch (thrown) {
      this.settled = true
      this.capture.release()
      this.reject(thrown)
      return
    }
    if (data === null) {
      this.timer = this.clock.setTimer(STEP_GAP_MS, this.step)
      return
    }
    this.settled = true
    this.resolve(data)
  }
}
