import {
  Codec,
  DecodeError,
  expectArray,
  expectRecord,
  expectString,
  toError,
  type ApplyContext,
  type StateMachine,
} from '@socketcloud/core'
import {
  combineStateMachines,
  counterService,
  keyValueStore,
  lockService,
  type CombinedStateMachine,
  type CounterMachineType,
  type CounterOptions,
  type KeyValueMachineType,
  type LockMachineType,
  type MachineFactory,
  type KeyValueOptions,
  type LockOptions,
} from '@socketcloud/state-machines'
import { memberDirectory, type MemberDirectoryOptions, type MemberDirectoryType } from './member-directory'
import { WatchHub, type WatchHubOptions } from './watch-hub'

export interface NodeMachineOptions extends Omit<WatchHubOptions, 'onSinkError'> {
  readonly kv?: KeyValueOptions
  readonly counters?: CounterOptions
  readonly locks?: LockOptions
  readonly directory?: MemberDirectoryOptions
  /** Where an observer failure (a watch sink, a directory listener) is reported; apply never sees it. */
  readonly onObserverError?: (error: Error) => void
}

export interface NodeMachineParts {
  readonly kv: KeyValueMachineType
  readonly counter: CounterMachineType
  readonly lock: LockMachineType
  readonly directory: MemberDirectoryType
  readonly [name: string]: MachineFactory
}

function createParts(options: NodeMachineOptions): NodeMachineParts {
  return {
    kv: keyValueStore(options.kv),
    // Counter names follow the API's name rule (up to 512 bytes), not the service's 256-byte default.
    counter: counterService({ nameBytesMax: 512, ...options.counters }),
    lock: lockService(options.locks),
    directory: memberDirectory(options.directory),
  }
}

export type NodePartName = 'kv' | 'counter' | 'lock' | 'directory'

/**
 * The node's replicated machine: the key-value store, counters, locks and the member directory
 * combined behind one `StateMachine`, plus two side observers of the apply path — the watch hub
 * (every key-value change, with its revision) and directory listeners. Observers run after the
 * combined machine applied a command and cannot change its result; their failures are reported to
 * `onObserverError`, never thrown into the consensus runtime.
 */
export class NodeMachine implements StateMachine {
  readonly types: NodeMachineParts
  readonly combined: CombinedStateMachine<NodeMachineParts>
  readonly hub: WatchHub
  private readonly codec = new Codec()
  private readonly directoryListeners = new Set<() => void>()
  private readonly onObserverError: (error: Error) => void

  constructor(options: NodeMachineOptions = {}) {
    this.types = createParts(options)
    this.combined = combineStateMachines(this.types)
    this.onObserverError =
      options.onObserverError ??
      ((error) =>
        queueMicrotask(() => {
          throw error
        }))
    this.hub = new WatchHub({
      ...(options.watchHistoryEventsMax !== undefined
        ? { watchHistoryEventsMax: options.watchHistoryEventsMax }
        : {}),
      ...(options.watchHistoryBytesMax !== undefined
        ? { watchHistoryBytesMax: options.watchHistoryBytesMax }
        : {}),
      onSinkError: this.onObserverError,
    })
  }

  /** `[part, inner]` for `runtime.submit` / `runtime.read`. */
  encode(part: NodePartName, inner: Uint8Array): Uint8Array {
    return this.combined.encode(part, inner)
  }

  /** Store revision of this replica's applied key-value state. */
  get kvRevision(): number {
    return this.combined.part('kv').current.revision
  }

  /** Called (synchronously, after apply) whenever the directory may have changed. Returns unsubscribe. */
  onDirectoryChange(listener: () => void): () => void {
    this.directoryListeners.add(listener)
    return () => this.directoryListeners.delete(listener)
  }

  apply(command: Uint8Array, context: ApplyContext): Uint8Array {
    const revisionBefore = this.kvRevision
    const result = this.combined.apply(command, context)
    this.observe(command, revisionBefore)
    return result
  }

  query(query: Uint8Array): Uint8Array {
    return this.combined.query(query)
  }

  snapshot(): Uint8Array {
    return this.combined.snapshot()
  }

  restore(snapshot: Uint8Array): void {
    this.combined.restore(snapshot)
    this.guard(() => this.hub.reset(this.kvRevision))
    this.notifyDirectory()
  }

  private observe(command: Uint8Array, revisionBefore: number): void {
    const revisionAfter = this.kvRevision
    this.guard(() => {
      // Every successful put, delete or compare-and-set moves the revision by exactly one and touches
      // exactly the key it names; failed and no-op commands leave the revision alone.
      if (revisionAfter !== revisionBefore) {
        const key = this.commandKey(command)
        const current = this.combined.part('kv').current.keys.get(key)
        this.hub.record(
          current !== undefined && current.modRevision === revisionAfter
            ? {
                type: 'put',
                key,
                value: current.value,
                revision: revisionAfter,
                createRevision: current.createRevision,
                version: current.version,
              }
            : { type: 'delete', key, revision: revisionAfter },
        )
        return
      }
      if (this.directoryListeners.size > 0 && this.partOf(command) === 'directory') {
        this.notifyDirectory()
      }
    })
  }

  /** The part a command is routed to, or null for bytes that route nowhere (applied as an error result). */
  private partOf(command: Uint8Array): NodePartName | null {
    try {
      return this.combined.route(command).name as NodePartName
    } catch (thrown) {
      if (thrown instanceof DecodeError) return null
      throw thrown
    }
  }

  private commandKey(command: Uint8Array): string {
    const { inner } = this.combined.route(command)
    const [, args] = expectArray(this.codec.decodeValue(inner), 'kv command', 2)
    return expectString(expectRecord(args, 'kv args')['key'], 'kv args.key', Number.MAX_SAFE_INTEGER)
  }

  private notifyDirectory(): void {
    for (const listener of this.directoryListeners) this.guard(listener)
  }

  private guard(body: () => void): void {
    try {
      body()
    } catch (thrown) {
      this.onObserverError(toError(thrown))
    }
  }
}

/**
 * The `StateMachine` to hand to `ConsensusRuntime` (every replica of a cluster must use the same
 * options), with its watch hub and typed part definitions for NodeServices.
 */
export function createNodeMachine(options: NodeMachineOptions = {}): NodeMachine {
  return new NodeMachine(options)
}
