import { SeededRandom, assert } from '@socketcloud/core'

/**
 * Core's SeededRandom (xoshiro128**) with the draws a simulation needs. `fork()` returns a SimRandom,
 * so every consumer (network, disk, each node) gets its own stream and adding one consumer never
 * shifts the numbers another sees.
 */
export class SimRandom extends SeededRandom {
  override fork(): SimRandom {
    return new SimRandom(this.nextUint32())
  }

  /** True with probability `probability` (0 never draws, so a disabled fault costs no randomness). */
  chance(probability: number): boolean {
    if (probability <= 0) return false
    if (probability >= 1) return true
    return this.nextFloat() < probability
  }

  /** Uniform float in [min, max). */
  between(min: number, max: number): number {
    assert(max >= min, 'between needs max >= min')
    return min + this.nextFloat() * (max - min)
  }

  /** A uniformly chosen element; the array must not be empty. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick needs a non-empty array')
    return items[this.nextInt(items.length)] as T
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1)
      const swap = out[i] as T
      out[i] = out[j] as T
      out[j] = swap
    }
    return out
  }
}

export { SeededRandom }
