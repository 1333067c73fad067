// Goal: checkLinearizable accepts exactly the linearizable key-value histories. Method: hand-written
// histories with known verdicts (including operations that never completed), then randomized
// histories produced by an atomic register — always linearizable — and corrupted copies of them.
import { describe, expect, it } from 'vitest'
import { HistoryRecorder, SimRandom, checkLinearizable, formatHistory, runSeeds } from '../index'
import type { HistoryEntry, KvOperation, KvOutput } from '../index'

let nextId = 1
/** One history entry: [invoke, complete] (complete null = never returned). */
function op(
  client: string,
  invokeMs: number,
  completeMs: number | null,
  operation: KvOperation,
  output?: KvOutput,
): HistoryEntry {
  return {
    id: nextId++,
    client,
    operation,
    invokeMs,
    completeMs,
    ...(output === undefined ? {} : { output }),
  }
}
const put = (key: string, value: string): KvOperation => ({ kind: 'put', key, value })
const get = (key: string): KvOperation => ({ kind: 'get', key })
const del = (key: string): KvOperation => ({ kind: 'delete', key })
const cas = (key: string, expected: string | null, value: string): KvOperation => ({
  kind: 'cas',
  key,
  expected,
  value,
})

describe('checkLinearizable: known linearizable histories', () => {
  const cases: [string, HistoryEntry[]][] = [
    ['sequential put then get', [op('a', 0, 1, put('x', '1')), op('b', 2, 3, get('x'), '1')]],
    ['a get of a key never written sees null', [op('a', 0, 1, get('x'), null)]],
    [
      'a get concurrent with a put may see the old value',
      [op('a', 0, 10, put('x', '1')), op('b', 1, 2, get('x'), null), op('c', 3, 4, get('x'), '1')],
    ],
    [
      'concurrent puts may land in either order',
      [op('a', 0, 10, put('x', '1')), op('b', 0, 10, put('x', '2')), op('c', 11, 12, get('x'), '1')],
    ],
    [
      'compare-and-set succeeds on the expected value and fails otherwise',
      [
        op('a', 0, 1, put('x', '1')),
        op('a', 2, 3, cas('x', '1', '2'), true),
        op('b', 4, 5, cas('x', '1', '3'), false),
        op('b', 6, 7, get('x'), '2'),
        op('c', 8, 9, cas('y', null, 'new'), true),
      ],
    ],
    [
      'delete makes a key absent',
      [op('a', 0, 1, put('x', '1')), op('a', 2, 3, del('x')), op('b', 4, 5, get('x'), null)],
    ],
    [
      'an operation that never completed may take effect later',
      [op('a', 0, null, put('x', '1')), op('b', 5, 6, get('x'), null), op('b', 7, 8, get('x'), '1')],
    ],
    [
      'an operation that never completed may never take effect',
      [op('a', 0, null, put('x', '1')), op('b', 5, 6, get('x'), null), op('b', 100, 101, get('x'), null)],
    ],
    [
      'a cas that never completed may have applied',
      [op('a', 0, 1, put('x', '1')), op('b', 2, null, cas('x', '1', '2')), op('c', 10, 11, get('x'), '2')],
    ],
    [
      'operations touching in time count as concurrent',
      [op('a', 0, 5, put('x', '1')), op('b', 5, 6, get('x'), null)],
    ],
  ]
  for (const [name, history] of cases) {
    it(name, () => expect(checkLinearizable(history).outcome).toBe('linearizable'))
  }
})

describe('checkLinearizable: known non-linearizable histories', () => {
  const cases: [string, HistoryEntry[]][] = [
    ['a get returns a value never written', [op('a', 0, 1, put('x', '1')), op('b', 2, 3, get('x'), '2')]],
    ['a stale read after a completed put', [op('a', 0, 1, put('x', '1')), op('b', 2, 3, get('x'), null)]],
    [
      'reads go back in time (new value seen, then the old one)',
      [op('a', 0, 10, put('x', '1')), op('b', 1, 2, get('x'), '1'), op('c', 3, 4, get('x'), null)],
    ],
    [
      'two compare-and-sets from the same expected value both succeed',
      [op('a', 0, 10, cas('x', null, '1'), true), op('b', 0, 10, cas('x', null, '2'), true)],
    ],
    [
      'a failed cas while the expected value was certainly there',
      [op('a', 0, 1, put('x', '1')), op('b', 2, 3, cas('x', '1', '2'), false)],
    ],
    [
      'a deleted value is read back',
      [op('a', 0, 1, put('x', '1')), op('a', 2, 3, del('x')), op('b', 4, 5, get('x'), '1')],
    ],
    [
      'an incomplete put cannot explain a read that finished before it began',
      [op('b', 0, 1, get('x'), '1'), op('a', 2, null, put('x', '1'))],
    ],
    [
      'an incomplete put cannot take effect twice',
      [
        op('a', 0, null, put('x', '1')),
        op('b', 1, 2, get('x'), '1'),
        op('c', 3, 4, put('x', '2')),
        op('b', 5, 6, get('x'), '1'),
      ],
    ],
  ]
  for (const [name, history] of cases) {
    it(name, () => {
      const result = checkLinearizable(history)
      expect(result.outcome).toBe('not-linearizable')
      expect(result.failure?.key).toBe('x')
      expect(result.failure?.message).toMatch(/no linearization/)
    })
  }

  it('checks each key on its own and names the failing one', () => {
    const history = [
      op('a', 0, 1, put('good', '1')),
      op('b', 2, 3, get('good'), '1'),
      op('a', 4, 5, put('bad', '1')),
      op('b', 6, 7, get('bad'), null),
    ]
    const result = checkLinearizable(history)
    expect(result.outcome).toBe('not-linearizable')
    expect(result.failure?.key).toBe('bad')
    expect(result.keys.map((verdict) => `${verdict.key}:${verdict.outcome}`)).toEqual([
      'bad:not-linearizable',
      'good:linearizable',
    ])
  })

  it('reports unknown instead of searching past its budget', () => {
    const history: HistoryEntry[] = []
    for (let i = 0; i < 40; i++) history.push(op(`c${i}`, 0, 100, put('x', String(i))))
    history.push(op('r', 101, 102, get('x'), 'never-written'))
    const result = checkLinearizable(history, { searchStepsMax: 1000 })
    expect(result.outcome).toBe('unknown')
    expect(result.keys[0]!.steps).toBeGreaterThan(1000)
  })
})

describe('HistoryRecorder', () => {
  it('records virtual timestamps, outputs, failures and abandoned operations', () => {
    let now = 0
    const recorder = new HistoryRecorder({ now: () => now })
    const first = recorder.invoke('c1', put('x', 'a'))
    now = 5
    recorder.complete(first)
    const second = recorder.invoke('c1', get('x'))
    const third = recorder.invoke('c2', put('x', 'b'))
    now = 8
    recorder.complete(second, 'a')
    recorder.fail(third)
    const fourth = recorder.invoke('c2', put('x', 'c'))
    recorder.abandon(fourth)
    recorder.invoke('c3', cas('x', 'c', 'd'))
    const history = recorder.history()
    expect(history.map((entry) => [entry.client, entry.invokeMs, entry.completeMs, entry.output])).toEqual([
      ['c1', 0, 5, undefined],
      ['c1', 5, 8, 'a'],
      ['c2', 8, null, undefined],
      ['c3', 8, null, undefined],
    ])
    expect(checkLinearizable(history).outcome).toBe('linearizable')
    expect(formatHistory(history)).toContain('[5, 8] c1 get x -> "a"')
  })

  it('refuses a second open operation on one client and a result of the wrong type', () => {
    const recorder = new HistoryRecorder({ now: () => 0 })
    const id = recorder.invoke('c1', get('x'))
    expect(() => recorder.invoke('c1', get('x'))).toThrow(/while another is open/)
    expect(() => recorder.complete(id, true)).toThrow(/string or null/)
  })
})

/**
 * A history from an atomic register: each operation takes effect at one instant inside its
 * interval (or, if it never completes, at some instant after invocation or never), and outputs are
 * computed from that order. Such a history is linearizable by construction.
 */
function atomicHistory(seed: number): HistoryEntry[] {
  const random = new SimRandom(seed)
  const keys = ['k0', 'k1', 'k2']
  const clients = 5
  interface Planned {
    entry: Omit<HistoryEntry, 'output'>
    effectMs: number | null
  }
  const planned: Planned[] = []
  let id = 1
  for (let client = 0; client < clients; client++) {
    let time = random.between(0, 5)
    for (let n = 0; n < 12; n++) {
      const key = random.pick(keys)
      const roll = random.nextInt(10)
      const value = `${client}.${n}`
      const operation: KvOperation =
        roll < 4
          ? get(key)
          : roll < 7
            ? put(key, value)
            : roll < 8
              ? del(key)
              : cas(key, random.pick([null, `${random.nextInt(clients)}.${random.nextInt(n + 1)}`]), value)
      const duration = random.between(0.5, 20)
      const incomplete = random.chance(0.08)
      const effectMs = incomplete
        ? random.chance(0.5)
          ? time + random.between(0, 200)
          : null
        : time + random.between(0, duration)
      planned.push({
        entry: {
          id: id++,
          client: `c${client}`,
          operation,
          invokeMs: time,
          completeMs: incomplete ? null : time + duration,
        },
        effectMs,
      })
      if (incomplete) break
      time += duration + random.between(0, 5)
    }
  }
  const state = new Map<string, string | null>()
  const outputs = new Map<number, KvOutput>()
  const effective = planned
    .filter((p) => p.effectMs !== null)
    .sort((a, b) => a.effectMs! - b.effectMs! || a.entry.id - b.entry.id)
  for (const { entry } of effective) {
    const operation = entry.operation
    const current = state.get(operation.key) ?? null
    if (operation.kind === 'get') outputs.set(entry.id, current)
    else if (operation.kind === 'put') state.set(operation.key, operation.value)
    else if (operation.kind === 'delete') state.set(operation.key, null)
    else {
      const applies = current === operation.expected
      if (applies) state.set(operation.key, operation.value)
      outputs.set(entry.id, applies)
    }
  }
  return planned.map(({ entry }) => {
    const output = entry.completeMs === null ? undefined : outputs.get(entry.id)
    return output === undefined ? entry : { ...entry, output }
  })
}

describe('checkLinearizable on randomized histories', () => {
  it('accepts every history produced by an atomic register', async () => {
    await runSeeds('atomic register histories are linearizable', { count: 60 }, (seed) => {
      const history = atomicHistory(seed)
      const result = checkLinearizable(history)
      expect(result.outcome, formatHistory(history)).toBe('linearizable')
    })
  })

  it('rejects the same histories once a completed read returns a value nobody wrote', async () => {
    await runSeeds('corrupted histories are rejected', { count: 30 }, (seed) => {
      const history = atomicHistory(seed)
      const reads = history.filter((entry) => entry.operation.kind === 'get' && entry.completeMs !== null)
      const victim = new SimRandom(seed ^ 0x5eed).pick(reads)
      const corrupted = history.map((entry) => (entry === victim ? { ...entry, output: 'forged' } : entry))
      const result = checkLinearizable(corrupted)
      expect(result.outcome).toBe('not-linearizable')
      expect(result.failure?.key).toBe(victim.operation.key)
    })
  })
})
