// Goal: seed sweeps honour SIM_SEED (replay exactly one seed) and SIM_SEEDS (sweep size), and a
// failure names its seed. Method: set the variables around each call and restore them afterwards.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { runSeeds, seedsToRun } from '../index'

const saved = {
  SIM_SEED: process.env.SIM_SEED,
  SIM_SEEDS: process.env.SIM_SEEDS,
  SIM_SEED_BASE: process.env.SIM_SEED_BASE,
}

afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  vi.restoreAllMocks()
})

describe('runSeeds', () => {
  it('sweeps consecutive seeds, SIM_SEEDS overriding the count', () => {
    delete process.env.SIM_SEED
    delete process.env.SIM_SEED_BASE
    delete process.env.SIM_SEEDS
    expect(seedsToRun({ count: 3 })).toEqual([1, 2, 3])
    expect(seedsToRun({ count: 2, firstSeed: 10 })).toEqual([10, 11])
    process.env.SIM_SEEDS = '5'
    expect(seedsToRun({ count: 3 })).toEqual([1, 2, 3, 4, 5])
  })

  it('SIM_SEED replays exactly one seed, and bad values are refused', () => {
    process.env.SIM_SEED = '4242'
    expect(seedsToRun({ count: 100 })).toEqual([4242])
    process.env.SIM_SEED = 'abc'
    expect(() => seedsToRun({})).toThrow(/SIM_SEED must be an integer/)
  })

  it('a failing seed is printed and named in the error', async () => {
    delete process.env.SIM_SEED
    process.env.SIM_SEEDS = '6'
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const ran: number[] = []
    await expect(
      runSeeds('sweep', {}, (seed) => {
        ran.push(seed)
        if (seed === 4) throw new Error('bad seed')
      }),
    ).rejects.toThrow(/bad seed[\s\S]*sweep: reproduce: SIM_SEED=4/)
    expect(ran).toEqual([1, 2, 3, 4])
    expect(printed).toHaveBeenCalledWith(expect.stringContaining('reproduce: SIM_SEED=4'))
  })
})
