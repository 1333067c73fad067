import type { ApplyContext, BytesInParts, SnapshotCapture, StateMachine } from '@socketcloud/core'
import {
  AssertionError,
  Codec,
  DecodeError,
  LimitExceededError,
  checkLimit,
  expectArray,
  expectString,
  toError,
} from '@socketcloud/core'
import { CommandError, FrameworkErrorCode } from './command-error'

/**
 * A command: `decode` turns the untrusted decoded arguments into typed ones (throwing DecodeError,
 * typically via core's validators), `apply` changes the state and returns the typed result, or throws
 * CommandError to refuse. `apply` must be deterministic: the same state, arguments and context give
 * the same result on every replica. Validate everything before mutating so a refusal changes nothing.
 */
export interface CommandDefinition<State, Args, Result> {
  readonly decode: (value: unknown) => Args
  readonly apply: (state: State, args: Args, context: ApplyContext) => Result
}

/** A read-only query: `run` must not change the state. */
export interface QueryDefinition<State, Args, Result> {
  readonly decode: (value: unknown) => Args
  readonly run: (state: State, args: Args) => Result
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the maps are heterogeneous; each entry is typed at its definition */
export type CommandMap<State> = Record<string, CommandDefinition<State, any, any>>
export type QueryMap<State> = Record<string, QueryDefinition<State, any, any>>

export type ArgsOf<Definition> =
  Definition extends CommandDefinition<never, infer Args, unknown>
    ? Args
    : Definition extends QueryDefinition<never, infer Args, unknown>
      ? Args
      : never
export type ResultOf<Definition> =
  Definition extends CommandDefinition<never, any, infer Result>
    ? Result
    : Definition extends QueryDefinition<never, any, infer Result>
      ? Result
      : never
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Identity helpers that let TypeScript infer a command's or query's argument and result types. */
export function command<State, Args, Result>(
  definition: CommandDefinition<State, Args, Result>,
): CommandDefinition<State, Args, Result> {
  return definition
}
export function query<State, Args, Result>(
  definition: QueryDefinition<State, Args, Result>,
): QueryDefinition<State, Args, Result> {
  return definition
}

export interface MachineDefinition<
  State,
  Commands extends CommandMap<State>,
  Queries extends QueryMap<State>,
> {
  /** Written into snapshots; a snapshot of another machine is refused on restore. */
  readonly name: string
  readonly initial: () => State
  readonly commands: Commands
  readonly queries: Queries
  /**
   * The whole state as a plain MessagePack-able value. It must be canonical — the same state gives the
   * same value whatever order it was built in (sort map keys) — so replicas' snapshots are identical.
   */
  readonly snapshot: (state: State) => unknown
  /** Validates and rebuilds a state from `snapshot`'s value; throws DecodeError when it is malformed. */
  readonly restore: (value: unknown) => State
  /**
   * Optional, for a large state: fixes `state` as it is now and returns a capture whose `step` encodes
   * a bounded slice per call and finally gives the value `snapshot` would have returned now (see
   * core's `StateMachine.captureSnapshot`). Commands apply to `state` between steps, so the machine
   * must keep what the capture reads unchanged (copy-on-write). The framework opens one at a time and
   * releases it on restore.
   */
  readonly captureSnapshot?: (state: State) => StateCapture
}

/** A machine's own capture (see `MachineDefinition.captureSnapshot`). */
export interface StateCapture {
  /** One bounded slice of work: null while more remains, then `{ value }`, which ends the capture. */
  step(): { readonly value: unknown } | null
  /** Ends the capture early. Calling it again is a no-op. */
  release(): void
}

export interface MachineLimits {
  /** Largest encoded command or query accepted; larger ones get an INVALID_COMMAND result. @default 4 MiB */
  readonly commandBytesMax?: number
  /** Largest snapshot produced or restored. @default 1 GiB */
  readonly snapshotBytesMax?: number
}

export const MACHINE_DEFAULTS = Object.freeze({
  commandBytesMax: 4 * 1024 * 1024,
  snapshotBytesMax: 1024 ** 3,
})

/** What `apply` and `query` answer: a typed value, or a refusal with a stable code. */
export type CommandResult<Value> =
  | { readonly ok: true; readonly value: Value }
  | { readonly ok: false; readonly code: string; readonly message: string }

const SNAPSHOT_FORMAT_VERSION = 1
const OPERATION_NAME_LENGTH_MAX = 64

/**
 * Defines a deterministic state machine from typed commands and queries. The result creates
 * StateMachine instances for the consensus driver and encodes/decodes the bytes a client sends and
 * receives, so both sides share one definition.
 *
 * Wire format: a command or query is MessagePack `[name, args]`; a result is `[1, value]` or
 * `[0, code, message]`; a snapshot is `[version, machineName, snapshotValue]`.
 */
export class MachineType<State, Commands extends CommandMap<State>, Queries extends QueryMap<State>> {
  readonly name: string
  private readonly commandCodec: Codec
  private readonly snapshotCodec: Codec

  constructor(
    readonly definition: MachineDefinition<State, Commands, Queries>,
    limits: MachineLimits = {},
  ) {
    this.name = definition.name
    const commandBytesMax = checkLimit(
      'commandBytesMax',
      limits.commandBytesMax ?? MACHINE_DEFAULTS.commandBytesMax,
    )
    const snapshotBytesMax = checkLimit(
      'snapshotBytesMax',
      limits.snapshotBytesMax ?? MACHINE_DEFAULTS.snapshotBytesMax,
    )
    this.commandCodec = new Codec({ envelopeBytesMax: commandBytesMax })
    this.snapshotCodec = new Codec({ envelopeBytesMax: snapshotBytesMax })
  }

  create(): DefinedStateMachine<State, Commands, Queries> {
    return new DefinedStateMachine(this, this.commandCodec, this.snapshotCodec)
  }

  encodeCommand<Name extends keyof Commands & string>(name: Name, args: ArgsOf<Commands[Name]>): Uint8Array {
    return this.encodeOperation(name, args)
  }

  encodeQuery<Name extends keyof Queries & string>(name: Name, args: ArgsOf<Queries[Name]>): Uint8Array {
    return this.encodeOperation(name, args)
  }

  /** Decodes a command's result. The bytes come from a replica of this machine, so shape is checked, not every field. */
  decodeCommandResult<Name extends keyof Commands & string>(
    _name: Name,
    bytes: Uint8Array,
  ): CommandResult<ResultOf<Commands[Name]>> {
    return decodeResult(this.commandCodec, bytes) as CommandResult<ResultOf<Commands[Name]>>
  }

  decodeQueryResult<Name extends keyof Queries & string>(
    _name: Name,
    bytes: Uint8Array,
  ): CommandResult<ResultOf<Queries[Name]>> {
    return decodeResult(this.commandCodec, bytes) as CommandResult<ResultOf<Queries[Name]>>
  }

  private encodeOperation(name: string, args: unknown): Uint8Array {
    const bytes = this.commandCodec.encodeValue([name, args])
    if (bytes.length > this.commandCodec.envelopeBytesMax) {
      throw new LimitExceededError('commandBytesMax', bytes.length, this.commandCodec.envelopeBytesMax, {
        name,
      })
    }
    return bytes
  }
}

export function defineStateMachine<
  State,
  Commands extends CommandMap<State>,
  Queries extends QueryMap<State>,
>(
  definition: MachineDefinition<State, Commands, Queries>,
  limits?: MachineLimits,
): MachineType<State, Commands, Queries> {
  return new MachineType(definition, limits)
}

/** Node's MessagePack decoder yields Buffers for binary; callers get plain Uint8Array views instead. */
function plainBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return value.constructor === Uint8Array
      ? value
      : new Uint8Array(value.buffer, value.byteOffset, value.length)
  }
  if (Array.isArray(value)) return value.map(plainBytes)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = plainBytes(item)
    return out
  }
  return value
}

function decodeResult(codec: Codec, bytes: Uint8Array): CommandResult<unknown> {
  const value = expectArray(codec.decodeValue(bytes), 'result', 3)
  if (value[0] === 1 && value.length === 2) return { ok: true, value: plainBytes(value[1]) }
  if (value[0] === 0 && value.length === 3) {
    return {
      ok: false,
      code: expectString(value[1], 'result.code', 64),
      message: expectString(value[2], 'result.message', 4096),
    }
  }
  throw new DecodeError('MALFORMED', 'result must be [1, value] or [0, code, message]')
}

/** The StateMachine the consensus driver calls. Created by `MachineType.create()`. */
export class DefinedStateMachine<
  State,
  Commands extends CommandMap<State>,
  Queries extends QueryMap<State>,
> implements StateMachine {
  private state: State
  private openCapture: StateCapture | null = null
  /** Present when the definition can capture (see `MachineDefinition.captureSnapshot`). */
  readonly captureSnapshot?: () => SnapshotCapture

  constructor(
    readonly type: MachineType<State, Commands, Queries>,
    private readonly commandCodec: Codec,
    private readonly snapshotCodec: Codec,
  ) {
    this.state = type.definition.initial()
    const capture = type.definition.captureSnapshot
    if (capture !== undefined) this.captureSnapshot = () => this.capture(capture)
  }

  /** The live state, for tests and in-process reads; treat it as read-only. */
  get current(): State {
    return this.state
  }

  apply(command: Uint8Array, context: ApplyContext): Uint8Array {
    const operation = this.decodeOperation(command, this.type.definition.commands, 'command')
    if (!operation.ok) return this.encodeResult(operation)
    return this.encodeResult(run(() => operation.definition.apply(this.state, operation.args, context)))
  }

  query(query: Uint8Array): Uint8Array {
    const operation = this.decodeOperation(query, this.type.definition.queries, 'query')
    if (!operation.ok) return this.encodeResult(operation)
    return this.encodeResult(run(() => operation.definition.run(this.state, operation.args)))
  }

  snapshot(): Uint8Array {
    return this.encodeSnapshot(this.type.definition.snapshot(this.state)).toBytes()
  }

  private capture(captureState: (state: State) => StateCapture): SnapshotCapture {
    if (this.openCapture !== null) {
      throw new AssertionError(`${this.type.name}: a snapshot capture is already open`)
    }
    const capture = captureState(this.state)
    this.openCapture = capture
    const end = (): void => {
      if (this.openCapture === capture) this.openCapture = null
    }
    return {
      step: () => {
        if (this.openCapture !== capture)
          throw new AssertionError(`${this.type.name}: the capture was released`)
        const done = capture.step()
        if (done === null) return null
        end()
        return this.encodeSnapshot(done.value)
      },
      release: () => {
        if (this.openCapture !== capture) return
        end()
        capture.release()
      },
    }
  }

  private encodeSnapshot(value: unknown): BytesInParts {
    // The machine's value may hold megabytes of bytes (the key-value store's rows): referenced, not copied.
    const bytes = this.snapshotCodec.encodeToParts([SNAPSHOT_FORMAT_VERSION, this.type.name, value])
    if (bytes.length > this.snapshotCodec.envelopeBytesMax) {
      throw new LimitExceededError('snapshotBytesMax', bytes.length, this.snapshotCodec.envelopeBytesMax)
    }
    return bytes
  }

  /** Replaces the state; throws DecodeError (and keeps the current state) when the snapshot is not valid. */
  restore(snapshot: Uint8Array): void {
    const value = expectArray(this.snapshotCodec.decodeValue(snapshot), 'snapshot', 3)
    if (value.length !== 3 || value[0] !== SNAPSHOT_FORMAT_VERSION) {
      throw new DecodeError('UNSUPPORTED_VERSION', 'snapshot is not a version 1 machine snapshot')
    }
    if (value[1] !== this.type.name) {
      throw new DecodeError(
        'INVALID_FIELD',
        `snapshot is of machine ${String(value[1])}, not ${this.type.name}`,
      )
    }
    const restored = this.type.definition.restore(value[2])
    // The capture read the state being replaced; its snapshot would be older than this one.
    this.openCapture?.release()
    this.openCapture = null
    this.state = restored
  }

  private decodeOperation<Definition extends { decode: (value: unknown) => unknown }>(
    bytes: Uint8Array,
    definitions: Record<string, Definition>,
    kind: 'command' | 'query',
  ): { ok: true; definition: Definition; args: never } | { ok: false; code: string; message: string } {
    const invalid = kind === 'command' ? FrameworkErrorCode.invalidCommand : FrameworkErrorCode.invalidQuery
    let name: string
    let rawArgs: unknown
    let decoded: unknown
    try {
      decoded = this.commandCodec.decodeValue(bytes)
    } catch (thrown) {
      // The decoder's own message depends on its internal state from earlier calls, so it would make
      // replicas' results differ; the result names the failure without it.
      if (thrown instanceof DecodeError)
        return { ok: false, code: invalid, message: `${kind} is not valid MessagePack` }
      throw thrown
    }
    try {
      const value = expectArray(decoded, kind, 2)
      if (value.length !== 2) throw new DecodeError('MALFORMED', `${kind} must be [name, args]`)
      name = expectString(value[0], `${kind}.name`, OPERATION_NAME_LENGTH_MAX)
      rawArgs = value[1]
    } catch (thrown) {
      if (thrown instanceof DecodeError) return { ok: false, code: invalid, message: thrown.message }
      throw thrown
    }
    if (!Object.hasOwn(definitions, name)) {
      const unknown = kind === 'command' ? FrameworkErrorCode.unknownCommand : FrameworkErrorCode.unknownQuery
      return { ok: false, code: unknown, message: `${this.type.name} has no ${kind} '${name}'` }
    }
    const definition = definitions[name]!
    try {
      return { ok: true, definition, args: definition.decode(rawArgs) as never }
    } catch (thrown) {
      if (thrown instanceof DecodeError)
        return { ok: false, code: invalid, message: `${name}: ${thrown.message}` }
      if (thrown instanceof AssertionError) throw thrown
      return { ok: false, code: invalid, message: `${name}: ${toError(thrown).message}` }
    }
  }

  private encodeResult(result: CommandResult<unknown>): Uint8Array {
    return this.commandCodec.encodeValue(result.ok ? [1, result.value] : [0, result.code, result.message])
  }
}

/**
 * Runs a machine's code: a CommandError becomes its error result; any other exception (a bug, since
 * refusals are CommandErrors) becomes an INTERNAL result so one bad command cannot stop every replica.
 * Assertion failures still crash: they mean the state itself is broken.
 */
function run(body: () => unknown): CommandResult<unknown> {
  try {
    return { ok: true, value: body() }
  } catch (thrown) {
    if (thrown instanceof CommandError) return { ok: false, code: thrown.code, message: thrown.message }
    if (thrown instanceof AssertionError) throw thrown
    return { ok: false, code: FrameworkErrorCode.internal, message: toError(thrown).message }
  }
}
