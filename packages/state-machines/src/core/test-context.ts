import type { ApplyContext } from '@socketcloud/core'

/** Apply contexts for tests: consecutive indexes, leader time starting at `startMs`. */
export function contexts(startMs = 1_700_000_000_000, stepMs = 10): (offsetMs?: number) => ApplyContext {
  let index = 0
  return (offsetMs = 0) => {
    index++
    return { index, term: 1, timestampMs: startMs + index * stepMs + offsetMs }
  }
}
