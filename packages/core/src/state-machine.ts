/** Where a committed command sits in the log, and the time the leader stamped on it. */
export interface ApplyContext {
  readonly index: number
  readonly term: number
  /**
   * Wall time (ms since epoch) proposed by the leader/primary with the entry. Replicas use this,
   * never their own clocks, for anything time-dependent (lock leases), so every replica agrees.
   */
  readonly timestampMs: number
}

/**
 * A deterministic replicated state machine. Implemented by `@socketcloud/state-machines` (key-value
 * store, counter, lock service) and by users; called by the consensus driver, which applies committed
 * commands in log order on every replica.
 *
 * Contract: `apply` must be a pure function of the current state, the command and the context — no
 * clocks, randomness or I/O — so that every replica reaches the same state. A command the machine
 * cannot parse must produce an error result, not throw, because it is already committed. `snapshot`
 * captures the whole state; `restore` replaces it.
 */
export interface StateMachine {
  apply(command: Uint8Array, context: ApplyContext): Uint8Array
  /** Read-only query against the current state. */
  query(query: Uint8Array): Uint8Array
  snapshot(): Uint8Array
  restore(snapshot: Uint8Array): void
}
