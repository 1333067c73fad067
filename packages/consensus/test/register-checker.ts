/**
 * A per-key linearizability checker for read/write registers (Wing & Gong's search with Lowe's
 * memoisation), used until/alongside the simulator's checker. An operation whose outcome is unknown
 * (the client gave up or its node crashed) has no completion time: it may take effect at any point
 * after its invocation, or never.
 */
export interface RegisterOperation {
  readonly kind: 'write' | 'read'
  readonly invokedMs: number
  /** Infinity when the outcome is unknown. */
  readonly completedMs: number
  /** Written value, or the value read (null for an absent key). */
  readonly value: string | null
}

export function checkRegisterHistory(
  operations: readonly RegisterOperation[],
): { ok: true } | { ok: false; detail: string } {
  const readValues = new Set(operations.filter((op) => op.kind === 'read').map((op) => op.value))
  // An unknown write nobody observed may be dropped: linearising it can never help a read.
  const ops = operations
    .filter((op) => op.completedMs !== Infinity || (op.kind === 'write' && readValues.has(op.value)))
    .slice()
    .sort((a, b) => a.invokedMs - b.invokedMs)
  const required = ops.filter((op) => op.completedMs !== Infinity).length
  const done = new Uint8Array(ops.length)
  const seen = new Set<string>()
  let budget = 200_000

  const search = (state: string | null, doneRequired: number): boolean => {
    if (doneRequired === required) return true
    if (--budget < 0) throw new Error('linearizability search budget exhausted')
    const key = `${state}|${done.join('')}`
    if (seen.has(key)) return false
    seen.add(key)
    let horizon = Infinity
    for (let i = 0; i < ops.length; i++) if (!done[i]) horizon = Math.min(horizon, ops[i]!.completedMs)
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!
      if (done[i]) continue
      if (op.invokedMs > horizon) break
      if (op.kind === 'read' && op.value !== state) continue
      done[i] = 1
      const next = op.kind === 'write' ? op.value : state
      if (search(next, doneRequired + (op.completedMs !== Infinity ? 1 : 0))) return true
      done[i] = 0
    }
    return false
  }
  if (search(null, 0)) return { ok: true }
  return { ok: false, detail: `no linearisation of ${ops.length} operations` }
}
