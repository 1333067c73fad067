/**
 * Goal: a key-value snapshot captured at one moment and encoded in steps, while commands keep
 * applying between the steps, is byte for byte the snapshot `snapshot()` gave at that moment; a
 * restore ends an open capture; one capture at a time. Method: seeded random puts, deletes and
 * compare-and-sets (new keys that split index chunks, deletes that empty them) between steps,
 * compared with a snapshot taken synchronously at the capture point.
 */
import { describe, expect, it } from 'vitest'
import { AssertionError, SeededRandom } from '@socketcloud/core'
import { keyValueStore } from '@socketcloud/state-machines'
import { contexts } from '../test-context'

const type = keyValueStore()

function store() {
  const machine = type.create()
  const next = contexts()
  const value = (text: string) => new TextEncoder().encode(text)
  return {
    machine,
    put: (key: string, text: string) =>
      machine.apply(type.encodeCommand('put', { key, value: value(text) }), next()),
    remove: (key: string) => machine.apply(type.encodeCommand('delete', { key }), next()),
    casDelete: (key: string, expectedModRevision: number) =>
      machine.apply(type.encodeCommand('compareAndSet', { key, expectedModRevision, value: null }), next()),
    modRevision: (key: string) => machine.current.keys.get(key)?.modRevision ?? 0,
  }
}

function randomChange(
  kv: ReturnType<typeof store>,
  random: SeededRandom,
  keySpace: number,
  round: number,
): void {
  const key = `key-${random.nextInt(keySpace).toString().padStart(5, '0')}`
  const draw = random.nextInt(10)
  if (draw < 6) kv.put(key, `value ${round} ${'x'.repeat(random.nextInt(40))}`)
  else if (draw < 9) kv.remove(key)
  else kv.casDelete(key, kv.modRevision(key))
}

describe('keyValueStore snapshot capture', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`encodes in steps exactly the snapshot of the capture moment while changes apply (seed ${seed})`, () => {
      const random = new SeededRandom(seed)
      const kv = store()
      // Enough keys for several index chunks (512 keys each) and several steps (1,024 rows each).
      for (let i = 0; i < 6_000; i++) randomChange(kv, random, 8_000, i)
      const expected = kv.machine.snapshot()
      const capture = kv.machine.captureSnapshot!()
      let result: Uint8Array | null = null
      let steps = 0
      while (result === null) {
        for (let i = 0; i < 500; i++) randomChange(kv, random, 8_000, 10_000 + steps * 500 + i)
        result = capture.step()?.toBytes() ?? null
        steps++
      }
      expect(steps).toBeGreaterThan(2)
      expect(result).toEqual(expected)
      // The live store went on: it differs from the capture, and a new snapshot shows it.
      expect(kv.machine.snapshot()).not.toEqual(expected)
      // The capture is over: the store keeps nothing for it and another may be taken.
      expect(kv.machine.current.preserved).toBeNull()
      const again = kv.machine.captureSnapshot!()
      const now = kv.machine.snapshot()
      let second: Uint8Array | null = null
      while (second === null) second = again.step()?.toBytes() ?? null
      expect(second).toEqual(now)
    })
  }

  it('restores a captured snapshot into the state it was captured from', () => {
    const kv = store()
    for (let i = 0; i < 3_000; i++) kv.put(`k${i}`, `v${i}`)
    const capture = kv.machine.captureSnapshot!()
    for (let i = 0; i < 3_000; i += 2) kv.remove(`k${i}`)
    kv.put('late', 'write')
    let bytes: Uint8Array | null = null
    while (bytes === null) bytes = capture.step()?.toBytes() ?? null
    const restored = type.create()
    restored.restore(bytes)
    expect(restored.current.keys.size).toBe(3_000)
    expect(restored.current.keys.has('late')).toBe(false)
    expect(restored.current.revision).toBe(3_000)
    expect(new TextDecoder().decode(restored.current.keys.get('k0')!.value)).toBe('v0')
  })

  it('captures an empty store', () => {
    const kv = store()
    const capture = kv.machine.captureSnapshot!()
    kv.put('a', '1')
    expect(capture.step()?.toBytes()).toEqual(type.create().snapshot())
  })

  it('allows one open capture; release and restore end it', () => {
    const kv = store()
    for (let i = 0; i < 2_000; i++) kv.put(`k${i}`, 'v')
    const first = kv.machine.captureSnapshot!()
    expect(() => kv.machine.captureSnapshot!()).toThrow(AssertionError)
    first.release()
    first.release()
    expect(kv.machine.current.preserved).toBeNull()
    expect(() => first.step()).toThrow(AssertionError)

    const second = kv.machine.captureSnapshot!()
    expect(second.step()).toBeNull()
    kv.machine.restore(type.create().snapshot())
    expect(() => second.step()).toThrow(AssertionError)
    // The restore ended it, so a new capture opens on the restored (empty) state.
    kv.put('after', 'restore')
    const third = kv.machine.captureSnapshot!()
    const expected = kv.machine.snapshot()
    let bytes: Uint8Array | null = null
    while (bytes === null) bytes = third.step()?.toBytes() ?? null
    expect(bytes).toEqual(expected)
  })
})
