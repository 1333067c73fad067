import type { ApplyContext, BytesInParts, SnapshotCapture, StateMachine } from '@socketcloud/core'
import {
  AssertionError,
  Codec,
  DecodeError,
  LimitExceededError,
  assert,
  checkLimit,
  expectArray,
  expectBytes,
  expectString,
} from '@socketcloud/core'
import { FrameworkErrorCode } from './command-error'
import { MACHINE_DEFAULTS, type MachineLimits } from './define'
import { compareStrings } from './limits'

/** Anything that makes fresh replicas of one machine: every `MachineType` from `defineStateMachine`. */
export interface MachineFactory<Machine extends StateMachine = StateMachine> {
  create(): Machine
}

export type MachineParts = Readonly<Record<string, MachineFactory>>
export type PartOf<Parts extends MachineParts, Name extends keyof Parts> = ReturnType<Parts[Name]['create']>

/** Written into composite snapshots; a snapshot of anything else is refused. */
export const COMBINED_MACHINE_NAME = 'socketcloud.combined'
const SNAPSHOT_FORMAT_VERSION = 1
const PART_NAME_LENGTH_MAX = 64
const PARTS_MAX = 64
/** Error code of a routed command or query naming no part of the composite. */
export const UNKNOWN_PART = 'UNKNOWN_PART'

/**
 * Several machines behind one `StateMachine`, for a consensus group that serves them all from one log
 * (the node's key-value store, counters, locks and member directory). A command or query is the
 * MessagePack pair `[partName, innerBytes]`; the part's own result bytes are returned unchanged, so a
 * caller decodes them with the part's `MachineType`. A routing failure is a framework error result
 * (`[0, code, message]`), never an exception, because the command is already committed.
 *
 * Snapshot: `[1, 'socketcloud.combined', [[partName, partSnapshot], ...]]`, parts sorted by name, so
 * replicas produce identical bytes. `restore` rebuilds every part from fresh replicas and swaps them
 * in only when all restored, so a bad snapshot leaves the current state untouched.
 */
export class CombinedStateMachine<Parts extends MachineParts> implements StateMachine {
  private readonly codec: Codec
  private readonly snapshotCodec: Codec
  private readonly names: readonly string[]
  private instances: Map<string, StateMachine>
  private openCapture: SnapshotCapture | null = null
  /**
   * Present when some part can capture: every part is fixed at the same moment (those without a
   * capture are encoded then), then the capturing parts are stepped in name order.
   */
  readonly captureSnapshot?: () => SnapshotCapture

  constructor(
    private readonly parts: Parts,
    limits: MachineLimits = {},
  ) {
    this.names = Object.keys(parts).sort(compareStrings)
    assert(this.names.length > 0, 'a combined machine has at least one part')
    assert(this.names.length <= PARTS_MAX, `a combined machine has at most ${PARTS_MAX} parts`)
    for (const name of this.names) {
      assert(name.length > 0 && name.length <= PART_NAME_LENGTH_MAX, `part name ${name} has 1–64 characters`)
    }
    const commandBytesMax = checkLimit(
      'commandBytesMax',
      limits.commandBytesMax ?? MACHINE_DEFAULTS.commandBytesMax,
    )
    const snapshotBytesMax = checkLimit(
      'snapshotBytesMax',
      limits.snapshotBytesMax ?? MACHINE_DEFAULTS.snapshotBytesMax,
    )
    this.codec = new Codec({ envelopeBytesMax: commandBytesMax })
    this.snapshotCodec = new Codec({ envelopeBytesMax: snapshotBytesMax })
    this.instances = this.createAll()
    if ([...this.instances.values()].some((instance) => instance.captureSnapshot !== undefined)) {
      this.captureSnapshot = () => this.capture()
    }
  }

  /** The live replica of one part (replaced by `restore`; do not keep it across restores). */
  part<Name extends keyof Parts & string>(name: Name): PartOf<Parts, Name> {
    const instance = this.instances.get(name)
    assert(instance !== undefined, `no part ${name}`)
    return instance as PartOf<Parts, Name>
  }

  /** `[partName, inner]`: a command or query for one part. */
  encode(name: keyof Parts & string, inner: Uint8Array): Uint8Array {
    assert(Object.hasOwn(this.parts, name), `no part ${name}`)
    const bytes = this.codec.encodeValue([name, inner])
    if (bytes.length > this.codec.envelopeBytesMax) {
      throw new LimitExceededError('commandBytesMax', bytes.length, this.codec.envelopeBytesMax, { name })
    }
    return bytes
  }

  /** Splits a routed command or query; DecodeError when it is not `[knownPart, bytes]`. */
  route(bytes: Uint8Array): { readonly name: keyof Parts & string; readonly inner: Uint8Array } {
    let decoded: unknown
    try {
      decoded = this.codec.decodeValue(bytes)
    } catch (thrown) {
      // The decoder's message depends on its internal state; replicas must produce identical results.
      if (thrown instanceof DecodeError) throw new DecodeError('MALFORMED', 'not valid MessagePack')
      throw thrown
    }
    const value = expectArray(decoded, 'routed', 2)
    if (value.length !== 2) throw new DecodeError('MALFORMED', 'a routed operation is [part, bytes]')
    const name = expectString(value[0], 'routed.part', PART_NAME_LENGTH_MAX)
    if (!Object.hasOwn(this.parts, name)) {
      throw new DecodeError('UNKNOWN_TYPE', `no part named '${name}'`, { part: name })
    }
    const inner = expectBytes(value[1], 'routed.bytes', this.codec.envelopeBytesMax)
    return { name: name as keyof Parts & string, inner: plain(inner) }
  }

  apply(command: Uint8Array, context: ApplyContext): Uint8Array {
    const routed = this.tryRoute(command, FrameworkErrorCode.invalidCommand)
    if ('error' in routed) return routed.error
    return this.instances.get(routed.name)!.apply(routed.inner, context)
  }

  query(query: Uint8Array): Uint8Array {
    const routed = this.tryRoute(query, FrameworkErrorCode.invalidQuery)
    if ('error' in routed) return routed.error
    return this.instances.get(routed.name)!.query(routed.inner)
  }

  snapshot(): Uint8Array {
    return this.encodeSnapshot(this.names.map((name) => this.instances.get(name)!.snapshot())).toBytes()
  }

  private capture(): SnapshotCapture {
    if (this.openCapture !== null) throw new AssertionError('combined: a snapshot capture is already open')
    const parts = this.names.map((name) => {
      const instance = this.instances.get(name)!
      return instance.captureSnapshot !== undefined
        ? { capture: instance.captureSnapshot(), bytes: null as Uint8Array | BytesInParts | null }
        : { capture: null, bytes: instance.snapshot() }
    })
    const release = (): void => {
      if (this.openCapture !== capture) return
      this.openCapture = null
      for (const part of parts) if (part.bytes === null) part.capture!.release()
    }
    const capture: SnapshotCapture = {
      step: () => {
        if (this.openCapture !== capture) throw new AssertionError('combined: the capture was released')
        const pending = parts.find((part) => part.bytes === null)
        if (pending !== undefined) {
          pending.bytes = pending.capture!.step()
          return null
        }
        this.openCapture = null
        return this.encodeSnapshot(parts.map((part) => part.bytes!))
      },
      release,
    }
    this.openCapture = capture
    return capture
  }

  private encodeSnapshot(partBytes: ReadonlyArray<Uint8Array | BytesInParts>): BytesInParts {
    const parts = this.names.map((name, position) => [name, partBytes[position]!])
    const bytes = this.snapshotCodec.encodeToParts([SNAPSHOT_FORMAT_VERSION, COMBINED_MACHINE_NAME, parts])
    if (bytes.length > this.snapshotCodec.envelopeBytesMax) {
      throw new LimitExceededError('snapshotBytesMax', bytes.length, this.snapshotCodec.envelopeBytesMax)
    }
    return bytes
  }

  restore(snapshot: Uint8Array): void {
    const value = expectArray(this.snapshotCodec.decodeValue(snapshot), 'snapshot', 3)
    if (value.length !== 3 || value[0] !== SNAPSHOT_FORMAT_VERSION) {
      throw new DecodeError('UNSUPPORTED_VERSION', 'snapshot is not a version 1 combined snapshot')
    }
    if (value[1] !== COMBINED_MACHINE_NAME) {
      throw new DecodeError('INVALID_FIELD', `snapshot is of machine ${String(value[1])}, not combined`)
    }
    const rows = expectArray(value[2], 'snapshot.parts', PARTS_MAX)
    if (rows.length !== this.names.length) {
      throw new DecodeError(
        'INVALID_FIELD',
        `snapshot has ${rows.length} parts, expected ${this.names.length}`,
      )
    }
    const fresh = this.createAll()
    for (const [position, row] of rows.entries()) {
      const [name, bytes] = expectArray(row, 'snapshot.part', 2)
      if (name !== this.names[position]) {
        throw new DecodeError('INVALID_FIELD', `snapshot part ${position} is ${String(name)}`, {
          expected: this.names[position],
        })
      }
      fresh
        .get(name as string)!
        .restore(plain(expectBytes(bytes, 'snapshot.part.bytes', this.snapshotCodec.envelopeBytesMax)))
    }
    // The capture read the parts being replaced; its snapshot would be older than this one.
    this.openCapture?.release()
    this.instances = fresh
  }

  private createAll(): Map<string, StateMachine> {
    return new Map(this.names.map((name) => [name, this.parts[name]!.create()]))
  }

  private tryRoute(
    bytes: Uint8Array,
    invalid: string,
  ): { name: keyof Parts & string; inner: Uint8Array } | { error: Uint8Array } {
    try {
      return this.route(bytes)
    } catch (thrown) {
      if (!(thrown instanceof DecodeError)) throw thrown
      const code = thrown.code === 'UNKNOWN_TYPE' ? UNKNOWN_PART : invalid
      return { error: this.codec.encodeValue([0, code, thrown.message]) }
    }
  }
}

/**
 * Combines machines into one `StateMachine` whose commands are routed by part name. Every replica of
 * a group must combine the same parts with the same options.
 *
 * @example
 * ```ts
 * const kv = keyValueStore()
 * const counters = counterService()
 * const machine = combineStateMachines({ kv, counters })
 * const put = machine.encode('kv', kv.encodeCommand('put', { key: 'a', value: bytes }))
 * const result = kv.decodeCommandResult('put', machine.apply(put, context))
 * ```
 */
export function combineStateMachines<Parts extends MachineParts>(
  parts: Parts,
  limits?: MachineLimits,
): CombinedStateMachine<Parts> {
  return new CombinedStateMachine(parts, limits)
}

function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
}
