import type { BytesInParts } from './codec/bytes-in-parts'

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
 * A snapshot being encoded in steps. The state it describes was fixed when it was captured: commands
 * applied since do not show in it.
 */
export interface SnapshotCapture {
  /**
   * Encodes one bounded slice (a millisecond or two of work) and returns null while more remains;
   * the last call returns the snapshot — joined, the same bytes `snapshot()` would have returned
   * when the capture was taken — and ends the capture. It comes in pieces so that each wrapping
   * layer adds its header without copying the whole. The driver keeps the pieces by reference (it
   * writes them to disk and sends them to followers later), so the machine must never change them
   * afterwards: hand over fresh buffers, not views of ones it keeps writing to.
   */
  step(): BytesInParts | null
  /** Ends the capture early; the machine stops keeping the captured state. Calling it again is a no-op. */
  release(): void
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
  /**
   * The whole state, encoded. The driver keeps the returned bytes by reference until they are saved
   * and sent, so they must not be changed afterwards (return a fresh buffer, not a view of live state).
   */
  snapshot(): Uint8Array
  /** Replaces the state; also ends an open capture (see `captureSnapshot`). */
  restore(snapshot: Uint8Array): void
  /**
   * Optional, for machines whose state is large: fixes the current state (cheaply — typically by
   * copy-on-write) so the driver can encode the snapshot in `step`s between applies instead of
   * stalling the loop for the whole encode. At most one capture is open at a time; taking another
   * while one is open is a programming error.
   */
  captureSnapshot?(): SnapshotCapture
}
