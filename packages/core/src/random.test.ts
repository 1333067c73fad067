import { describe, expect, it } from 'vitest'
import { SeededRandom } from './random'

describe('SeededRandom', () => {
  it('replays the same sequence for the same seed and differs across seeds', () => {
    const draw = (seed: number) => {
      const random = new SeededRandom(seed)
      return Array.from({ length: 32 }, () => random.nextUint32())
    }
    expect(draw(42)).toEqual(draw(42))
    expect(draw(42)).not.toEqual(draw(43))
  })

  it('stays in range and is roughly uniform', () => {
    const random = new SeededRandom(7)
    const buckets = new Array<number>(10).fill(0)
    for (let i = 0; i < 100_000; i++) {
      const value = random.nextInt(10)
      expect(value).toBeGreaterThanOrEqual(0)
      expect(value).toBeLessThan(10)
      buckets[value]!++
    }
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(600)
  })
})
