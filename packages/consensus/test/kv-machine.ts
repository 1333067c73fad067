import { BytesInParts, type ApplyContext, type SnapshotCapture, type StateMachine } from '@socketcloud/core'

/**
 * A tiny deterministic key-value register machine for the driver's simulation tests (the real
 * key-value store lives in @socketcloud/state-machines, which this package may not depend on).
 * Commands and queries are UTF-8 JSON: {op:'put',key,value} → 'ok'; {op:'get',key} → value or null.
 * It also records which command it applied at which index, so a test can check that every replica
 * applied the same command at the same index (state machine safety).
 */
export type KvCommand = { readonly op: 'put'; readonly key: string; readonly value: string }
export type KvQuery = { readonly op: 'get'; readonly key: string }

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const encodeJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))
export const decodeJson = <T>(bytes: Uint8Array): T => JSON.parse(decoder.decode(bytes)) as T

export interface KvMachineOptions {
  /**
   * When set, the machine offers `captureSnapshot`: it copies its entries at capture and encodes this
   * many per step, so the driver's stepped snapshot path runs (the copy is fine for a test's sizes).
   */
  readonly captureRowsPerStep?: number
  /** While this returns true, capture steps make no progress (a slow encode the test holds open). */
  readonly captureHeld?: () => boolean
}

export class KvMachine implements StateMachine {
  private values = new Map<string, string>()
  applied = 0
  /** Captures taken, and how many ended by `release` rather than by their last step. */
  readonly captures = { taken: 0, released: 0 }
  /** Commands applied so far, as seen by each capture step (to tell whether applies ran between steps). */
  readonly appliedAtCaptureSteps: number[] = []
  readonly captureSnapshot?: () => SnapshotCapture
  private openCapture: { release(): void } | null = null

  constructor(
    private readonly onApply?: (index: number, command: Uint8Array) => void,
    options: KvMachineOptions = {},
  ) {
    const rowsPerStep = options.captureRowsPerStep
    const held = options.captureHeld ?? (() => false)
    if (rowsPerStep !== undefined) this.captureSnapshot = () => this.capture(rowsPerStep, held)
  }

  private capture(rowsPerStep: number, held: () => boolean): SnapshotCapture {
    if (this.openCapture !== null) throw new Error('KvMachine: a capture is already open')
    this.captures.taken++
    const rows = this.sortedRows()
    const encoded: Array<[string, string]> = []
    let open = true
    const capture = {
      step: (): BytesInParts | null => {
        if (!open) throw new Error('KvMachine: step after the capture ended')
        this.appliedAtCaptureSteps.push(this.applied)
        if (held()) return null
        encoded.push(...rows.slice(encoded.length, encoded.length + rowsPerStep))
        if (encoded.length < rows.length) return null
        open = false
        this.openCapture = null
        return new BytesInParts([encodeJson(encoded)])
      },
      release: (): void => {
        if (!open) return
        open = false
        this.openCapture = null
        this.captures.released++
      },
    }
    this.openCapture = capture
    return capture
  }

  apply(command: Uint8Array, context: ApplyContext): Uint8Array {
    this.onApply?.(context.index, command)
    this.applied++
    let parsed: KvCommand
    try {
      parsed = decodeJson<KvCommand>(command)
    } catch {
      return encodeJson({ error: 'malformed' })
    }
    if (parsed.op !== 'put') return encodeJson({ error: 'unknown op' })
    this.values.set(parsed.key, parsed.value)
    return encodeJson('ok')
  }

  query(query: Uint8Array): Uint8Array {
    const parsed = decodeJson<KvQuery>(query)
    return encodeJson(this.values.get(parsed.key) ?? null)
  }

  get(key: string): string | null {
    return this.values.get(key) ?? null
  }

  snapshot(): Uint8Array {
    return encodeJson(this.sortedRows())
  }

  restore(snapshot: Uint8Array): void {
    this.values = new Map(decodeJson<Array<[string, string]>>(snapshot))
    this.openCapture?.release()
  }

  private sortedRows(): Array<[string, string]> {
    return [...this.values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }
}
