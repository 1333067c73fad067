import { SeededRandom, checkLimit } from '@socketcloud/core'
import type { HistoryEntry, KvValue } from './history'

export type LinearizabilityOutcome = 'linearizable' | 'not-linearizable' | 'unknown'

export interface KeyVerdict {
  readonly key: string
  readonly outcome: LinearizabilityOutcome
  readonly operations: number
  /** Search steps spent on this key. */
  readonly steps: number
}

export interface LinearizabilityResult {
  /** `not-linearizable` if any key is; otherwise `unknown` if any key ran out of budget. */
  readonly outcome: LinearizabilityOutcome
  readonly keys: readonly KeyVerdict[]
  /** For `not-linearizable`: the first failing key, its operations and the longest valid order found. */
  readonly failure?: {
    readonly key: string
    readonly operations: readonly HistoryEntry[]
    readonly longestLinearization: readonly HistoryEntry[]
    readonly message: string
  }
}

export interface CheckOptions {
  /** Search steps per key before the verdict for that key is `unknown` (memory grows with it). @default 1_000_000 */
  readonly searchStepsMax?: number
  /** Value of every key before the history. @default null (absent) */
  readonly initialValue?: KvValue
}

/** Marks a transition the register does not allow. */
const INVALID = undefined

/** The sequential specification of one key: a register with get, put, delete and compare-and-set. */
function stepRegister(state: KvValue, entry: HistoryEntry): KvValue | typeof INVALID {
  const operation = entry.operation
  const completed = entry.completeMs !== null
  switch (operation.kind) {
    case 'get':
      return !completed || entry.output === state ? state : INVALID
    case 'put':
      return operation.value
    case 'delete':
      return null
    case 'cas': {
      const applies = state === operation.expected
      if (!completed) return applies ? operation.value : state
      if (entry.output === true) return applies ? operation.value : INVALID
      return applies ? INVALID : state
    }
  }
}

function stateKey(state: KvValue): string {
  return state === null ? '\u0000' : `=${state}`
}

interface Node {
  readonly position: number
  readonly isCall: boolean
  match: Node | null
  prev: Node | null
  next: Node | null
}

/**
 * Checks one key's history with the Wing–Gong algorithm as improved by Lowe (memoising the pairs of
 * linearized-set and state already explored), the approach of Knossos and Porcupine. Operations
 * that never completed get a return at +infinity and no constraint on their output, which is
 * exactly "took effect at some moment after invocation, or never": the search may place them last,
 * where nothing observes them.
 */
function checkKey(
  operations: readonly HistoryEntry[],
  initial: KvValue,
  stepsMax: number,
): { outcome: LinearizabilityOutcome; steps: number; longest: number[] } {
  const events: { time: number; isCall: boolean; position: number }[] = []
  operations.forEach((operation, position) => {
    events.push({ time: operation.invokeMs, isCall: true, position })
    events.push({ time: operation.completeMs ?? Number.POSITIVE_INFINITY, isCall: false, position })
  })
  // At equal times calls go first: operations that touch in time are treated as concurrent.
  events.sort(
    (a, b) => a.time - b.time || (a.isCall === b.isCall ? a.position - b.position : a.isCall ? -1 : 1),
  )

  const head: Node = { position: -1, isCall: false, match: null, prev: null, next: null }
  const calls: Node[] = new Array(operations.length)
  let tail = head
  for (const event of events) {
    const node: Node = { position: event.position, isCall: event.isCall, match: null, prev: tail, next: null }
    tail.next = node
    tail = node
    if (event.isCall) calls[event.position] = node
    else {
      const call = calls[event.position]!
      call.match = node
      node.match = call
    }
  }

  const lift = (call: Node): void => {
    call.prev!.next = call.next
    call.next!.prev = call.prev
    const ret = call.match!
    ret.prev!.next = ret.next
    if (ret.next !== null) ret.next.prev = ret.prev
  }
  const unlift = (call: Node): void => {
    const ret = call.match!
    ret.prev!.next = ret
    if (ret.next !== null) ret.next.prev = ret
    call.prev!.next = call
    call.next!.prev = call
  }

  // The linearized set is memoised by a 64-bit Zobrist hash (XOR of per-operation random words),
  // updated in O(1) per step. A collision, about k^2 / 2^65 for k memo entries, could only prune a
  // branch; exact bitsets would cost O(n) memory per entry on long histories.
  const zobrist = new SeededRandom(0x11ea7)
  const lowWords = new Uint32Array(operations.length)
  const highWords = new Uint32Array(operations.length)
  for (let i = 0; i < operations.length; i++) {
    lowWords[i] = zobrist.nextUint32()
    highWords[i] = zobrist.nextUint32()
  }
  let low = 0
  let high = 0
  const seen = new Set<string>()
  const stack: { call: Node; state: KvValue }[] = []
  let remaining = operations.filter((operation) => operation.completeMs !== null).length
  let state = initial
  let steps = 0
  let longest: number[] = []
  let entry = head.next

  for (;;) {
    if (remaining === 0) return { outcome: 'linearizable', steps, longest: [] }
    if (++steps > stepsMax) return { outcome: 'unknown', steps, longest }
    if (entry !== null && entry.isCall) {
      const operation = operations[entry.position]!
      const next = stepRegister(state, operation)
      if (next !== INVALID) {
        const position = entry.position
        const key = `${(low ^ lowWords[position]!) >>> 0}:${(high ^ highWords[position]!) >>> 0}|${stateKey(next)}`
        if (!seen.has(key)) {
          low ^= lowWords[position]!
          high ^= highWords[position]!
          seen.add(key)
          stack.push({ call: entry, state })
          if (stack.length > longest.length) longest = stack.map((frame) => frame.call.position)
          state = next
          if (operation.completeMs !== null) remaining--
          lift(entry)
          entry = head.next
          continue
        }
      }
      entry = entry.next
      continue
    }
    // A return reached before its call could be linearized: undo the last choice.
    const frame = stack.pop()
    if (frame === undefined) return { outcome: 'not-linearizable', steps, longest }
    const position = frame.call.position
    low ^= lowWords[position]!
    high ^= highWords[position]!
    state = frame.state
    if (operations[position]!.completeMs !== null) remaining++
    unlift(frame.call)
    entry = frame.call.next
  }
}

/**
 * Checks a key-value history for linearizability, one key at a time (linearizability is compositional,
 * so the history is linearizable exactly when every key's sub-history is). Never hangs: each key has
 * a search budget, and a key that exhausts it is reported `unknown`.
 */
export function checkLinearizable(
  history: readonly HistoryEntry[],
  options: CheckOptions = {},
): LinearizabilityResult {
  const stepsMax = checkLimit('searchStepsMax', options.searchStepsMax ?? 1_000_000)
  const initial = options.initialValue ?? null
  const byKey = new Map<string, HistoryEntry[]>()
  for (const entry of history) {
    // A get that never returned constrains nothing.
    if (entry.operation.kind === 'get' && entry.completeMs === null) continue
    let list = byKey.get(entry.operation.key)
    if (list === undefined) byKey.set(entry.operation.key, (list = []))
    list.push(entry)
  }
  const keys: KeyVerdict[] = []
  let failure: LinearizabilityResult['failure']
  let unknown = false
  for (const key of [...byKey.keys()].sort()) {
    const operations = byKey.get(key)!
    const verdict = checkKey(operations, initial, stepsMax)
    keys.push({ key, outcome: verdict.outcome, operations: operations.length, steps: verdict.steps })
    if (verdict.outcome === 'unknown') unknown = true
    if (verdict.outcome === 'not-linearizable' && failure === undefined) {
      const longestLinearization = verdict.longest.map((position) => operations[position]!)
      failure = {
        key,
        operations,
        longestLinearization,
        message:
          `key ${JSON.stringify(key)}: no linearization of its ${operations.length} operations; ` +
          `the longest valid prefix has ${longestLinearization.length}`,
      }
    }
  }
  const outcome: LinearizabilityOutcome =
    failure !== undefined ? 'not-linearizable' : unknown ? 'unknown' : 'linearizable'
  return failure === undefined ? { outcome, keys } : { outcome, keys, failure }
}

/** One line per operation, for failure messages: `[12.0, 15.5] c1 put x=a`. */
export function formatHistory(entries: readonly HistoryEntry[]): string {
  return entries
    .map((entry) => {
      const operation = entry.operation
      const body =
        operation.kind === 'get'
          ? `get ${operation.key} -> ${JSON.stringify(entry.output ?? null)}`
          : operation.kind === 'put'
            ? `put ${operation.key}=${JSON.stringify(operation.value)}`
            : operation.kind === 'delete'
              ? `delete ${operation.key}`
              : `cas ${operation.key} ${JSON.stringify(operation.expected)}->${JSON.stringify(operation.value)}` +
                (entry.completeMs === null ? '' : ` -> ${String(entry.output)}`)
      const end = entry.completeMs === null ? 'never' : String(entry.completeMs)
      return `[${entry.invokeMs}, ${end}] ${entry.client} ${body}`
    })
    .join('\n')
}
