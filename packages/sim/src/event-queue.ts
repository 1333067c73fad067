import type { TimerHandle } from '@socketcloud/core'

/** Whoever scheduled an event on behalf of a clock, told when the event ran or was cancelled. */
export interface TimerOwner {
  timerSettled(): void
}

/** Told when an event it scheduled is cancelled (the simulation keeps its live-event count with it). */
export interface CancelListener {
  eventCancelled(event: ScheduledEvent): void
}

/** One scheduled callback. Cancelled events stay in the heap and are skipped when they surface. */
export class ScheduledEvent implements TimerHandle {
  /** True once the event ran or was cancelled. */
  cancelled = false
  constructor(
    readonly timeMs: number,
    readonly sequence: number,
    readonly label: string,
    readonly run: () => void,
    private readonly listener: CancelListener,
    /** The clock that scheduled it, if any, so a stopped clock can find its timers. */
    readonly owner: TimerOwner | null = null,
  ) {}

  cancel(): void {
    if (this.cancelled) return
    this.cancelled = true
    this.listener.eventCancelled(this)
  }
}

function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.sequence < b.sequence)
}

/**
 * Binary min-heap ordered by (virtual time, insertion sequence). The sequence breaks ties, so two
 * events at the same instant always run in the order they were scheduled: the order never depends
 * on heap layout, which is what makes a run replayable.
 */
export class EventQueue {
  private readonly heap: ScheduledEvent[] = []

  get size(): number {
    return this.heap.length
  }

  push(event: ScheduledEvent): void {
    const heap = this.heap
    heap.push(event)
    let index = heap.length - 1
    while (index > 0) {
      const parent = (index - 1) >> 1
      const parentEvent = heap[parent] as ScheduledEvent
      if (!before(event, parentEvent)) break
      heap[index] = parentEvent
      index = parent
    }
    heap[index] = event
  }

  peek(): ScheduledEvent | undefined {
    return this.heap[0]
  }

  pop(): ScheduledEvent | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    let index = 0
    const length = heap.length
    for (;;) {
      const left = 2 * index + 1
      if (left >= length) break
      const right = left + 1
      let child = left
      if (right < length && before(heap[right] as ScheduledEvent, heap[left] as ScheduledEvent)) child = right
      const childEvent = heap[child] as ScheduledEvent
      if (!before(childEvent, last)) break
      heap[index] = childEvent
      index = child
    }
    heap[index] = last
    return top
  }

  /** Cancels every pending event scheduled by `owner`. */
  cancelOwnedBy(owner: TimerOwner): void {
    for (const event of this.heap) if (event.owner === owner) event.cancel()
  }

  /** The earliest event that is not cancelled (cancelled ones on top are discarded). */
  peekLive(): ScheduledEvent | undefined {
    for (;;) {
      const top = this.heap[0]
      if (top === undefined || !top.cancelled) return top
      this.pop()
    }
  }
}
