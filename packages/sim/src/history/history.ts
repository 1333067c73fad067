import { assert } from '@socketcloud/core'

/** A key's value; `null` means the key is absent. */
export type KvValue = string | null

/** A client operation on a key-value store. */
export type KvOperation =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string }
  /** Sets `value` only if the current value equals `expected` (`null`: only if absent). */
  | { readonly kind: 'cas'; readonly key: string; readonly expected: KvValue; readonly value: string }

/** What a completed operation returned: the value for `get`, success for `cas`, nothing otherwise. */
export type KvOutput = KvValue | boolean | undefined

export interface HistoryEntry {
  readonly id: number
  readonly client: string
  readonly operation: KvOperation
  readonly invokeMs: number
  /**
   * When the client saw the result; `null` if it never did (a timeout, a crash). Such an operation
   * may have taken effect at any moment after its invocation, or never.
   */
  readonly completeMs: number | null
  readonly output?: KvOutput
}

interface OpenOperation {
  readonly id: number
  readonly client: string
  readonly operation: KvOperation
  readonly invokeMs: number
}

/**
 * Records client operations with virtual timestamps, for `checkLinearizable`.
 *
 * For each operation call `invoke` before sending it and then exactly one of: `complete` (the client
 * got a result), `fail` (the operation definitely did not take effect, e.g. it was refused before
 * reaching the system) or `abandon` (the outcome is unknown, e.g. a timeout). Operations left open at
 * the end count as abandoned. A client runs one operation at a time, as in Jepsen.
 */
export class HistoryRecorder {
  private readonly done: HistoryEntry[] = []
  private readonly open = new Map<number, OpenOperation>()
  private readonly busyClients = new Set<string>()
  private nextId = 1

  constructor(private readonly clock: { now(): number }) {}

  /** Records the start of `operation` by `client`; returns the id to complete it with. */
  invoke(client: string, operation: KvOperation): number {
    assert(!this.busyClients.has(client), `client ${client} invoked an operation while another is open`)
    const id = this.nextId++
    this.open.set(id, { id, client, operation, invokeMs: this.clock.now() })
    this.busyClients.add(client)
    return id
  }

  /** The client got a result: the value for `get`, whether it applied for `cas`, nothing otherwise. */
  complete(id: number, output?: KvOutput): void {
    const open = this.take(id)
    const kind = open.operation.kind
    if (kind === 'get')
      assert(output === null || typeof output === 'string', 'a get completes with a string or null')
    else if (kind === 'cas') assert(typeof output === 'boolean', 'a cas completes with a boolean')
    else assert(output === undefined, `a ${kind} completes without an output`)
    this.done.push({ ...open, completeMs: this.clock.now(), ...(output === undefined ? {} : { output }) })
  }

  /** The operation definitely did not take effect; it is left out of the history. */
  fail(id: number): void {
    this.take(id)
  }

  /** The outcome is unknown (timeout, crash): the operation may or may not have taken effect. */
  abandon(id: number): void {
    const open = this.take(id)
    this.done.push({ ...open, completeMs: null })
  }

  /** Every recorded operation, in invocation order; operations still open are included as abandoned. */
  history(): HistoryEntry[] {
    const all: HistoryEntry[] = [
      ...this.done,
      ...[...this.open.values()].map((open) => ({ ...open, completeMs: null })),
    ]
    return all.sort((a, b) => a.id - b.id)
  }

  get openOperations(): number {
    return this.open.size
  }

  private take(id: number): OpenOperation {
    const open = this.open.get(id)
    assert(open !== undefined, `operation ${id} is not open`)
    this.open.delete(id)
    this.busyClients.delete(open.client)
    return open
  }
}
