import type { ApplyContext, StateMachine } from '@socketcloud/core'

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

export class KvMachine implements StateMachine {
  private values = new Map<string, string>()
  applied = 0

  constructor(private readonly onApply?: (index: number, command: Uint8Array) => void) {}

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
    return encodeJson([...this.values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }

  restore(snapshot: Uint8Array): void {
    this.values = new Map(decodeJson<Array<[string, string]>>(snapshot))
  }
}
