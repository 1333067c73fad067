import { assert } from './errors'

/**
 * An injected source of randomness. Pure cores take one in their constructor instead of calling
 * `Math.random()`, so a simulation seeded with N replays exactly. Implemented by `SeededRandom`.
 */
export interface Random {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number
  /** Uniform float in [0, 1). */
  nextFloat(): number
  /** Uniform integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

/**
 * xoshiro128** (Blackman and Vigna), seeded through splitmix32. Small, fast and well distributed;
 * not cryptographic. `fork()` derives an independent stream, so adding a consumer does not shift
 * the numbers every other consumer sees.
 */
export class SeededRandom implements Random {
  private s0: number
  private s1: number
  private s2: number
  private s3: number
  readonly seed: number

  constructor(seed: number) {
    assert(Number.isInteger(seed), 'seed must be an integer')
    this.seed = seed >>> 0
    const next = splitmix32(this.seed)
    this.s0 = next()
    this.s1 = next()
    this.s2 = next()
    this.s3 = next()
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0
    const t = (this.s1 << 9) >>> 0
    this.s2 ^= this.s0
    this.s3 ^= this.s1
    this.s1 ^= this.s2
    this.s0 ^= this.s3
    this.s2 ^= t
    this.s3 = rotl(this.s3, 11)
    this.s0 >>>= 0
    this.s1 >>>= 0
    this.s2 >>>= 0
    return result
  }

  nextFloat(): number {
    return this.nextUint32() / 0x1_0000_0000
  }

  nextInt(maxExclusive: number): number {
    assert(Number.isInteger(maxExclusive) && maxExclusive > 0, 'nextInt bound must be a positive integer')
    return Math.floor(this.nextFloat() * maxExclusive)
  }

  /** An independent generator whose seed is drawn from this one. */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32())
  }
}

function rotl(value: number, shift: number): number {
  return ((value << shift) | (value >>> (32 - shift))) >>> 0
}
