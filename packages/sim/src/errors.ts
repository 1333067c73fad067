import { SocketCloudError } from '@socketcloud/core'
import type { ErrorContext } from '@socketcloud/core'

export type SimulationErrorCode =
  'INVARIANT_FAILED' | 'EVENT_FAILED' | 'EVENTS_EXHAUSTED' | 'SIMULATION_FAILED'

/** Line appended to every simulation failure so that the run can be replayed exactly. */
export function reproduceLine(seed: number): string {
  return `reproduce: SIM_SEED=${seed}`
}

/**
 * A simulation run failed: an invariant broke, an event threw, or the event budget ran out. The
 * message always ends with `reproduce: SIM_SEED=<seed>`; `context` carries the seed, the virtual
 * time, the event count and the labels of the last events.
 */
export class SimulationError extends SocketCloudError {
  declare readonly code: SimulationErrorCode
  readonly seed: number

  constructor(
    code: SimulationErrorCode,
    message: string,
    seed: number,
    context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, `${message}\n${reproduceLine(seed)}`, { seed, ...context }, options)
    this.seed = seed
  }
}
