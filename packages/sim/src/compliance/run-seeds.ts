import { ConfigError, checkLimit, toError } from '@socketcloud/core'
import { reproduceLine } from '../errors'

// This file lives in src/compliance, the part of the simulator that faces the test runner, because
// it is the one place the simulator reads the process environment (SIM_SEED / SIM_SEEDS).

export interface RunSeedsOptions {
  /** Seeds to sweep when SIM_SEEDS is not set. @default 16 */
  readonly count?: number
  /** First seed of the sweep; seeds are consecutive from here. SIM_SEED_BASE overrides. @default 1 */
  readonly firstSeed?: number
}

const DEFAULT_SEED_COUNT = 16

function environment(name: string): string | undefined {
  const value = typeof process === 'undefined' ? undefined : process.env[name]
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

function parseSeedVariable(name: string, min: number): number | undefined {
  const text = environment(name)
  if (text === undefined) return undefined
  const value = Number(text)
  if (!Number.isInteger(value) || value < min || value > 0xffff_ffff) {
    throw new ConfigError(`${name} must be an integer in [${min}, 4294967295], got ${JSON.stringify(text)}`, {
      variable: name,
      value: text,
    })
  }
  return value
}

/** The seeds a sweep will run: `SIM_SEED` alone when set, else `SIM_SEEDS` (or `count`) consecutive seeds. */
export function seedsToRun(options: RunSeedsOptions = {}): number[] {
  const single = parseSeedVariable('SIM_SEED', 0)
  if (single !== undefined) return [single]
  const count = parseSeedVariable('SIM_SEEDS', 1) ?? checkLimit('count', options.count ?? DEFAULT_SEED_COUNT)
  const first = parseSeedVariable('SIM_SEED_BASE', 0) ?? checkLimit('firstSeed', options.firstSeed ?? 1, 0)
  return Array.from({ length: count }, (_, i) => (first + i) >>> 0)
}

/**
 * Lets the host event loop run once. The async simulation runners yield only to microtasks, so a
 * whole sweep would otherwise hold the event loop until its last seed: the test runner's own
 * messages (vitest's worker RPC times out after 60 s) would starve. Between seeds nothing simulated
 * is pending, so this cannot change any run.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve)
    else setTimeout(resolve, 0)
  })
}

/**
 * Runs `body` once per seed, one after another. A failure prints the test name and the seed on
 * stderr and rethrows the error with `reproduce: SIM_SEED=<seed>` in its message; running with that
 * variable set replays only that seed. Between seeds it lets the host event loop run once.
 *
 * @example
 * ```ts
 * it('keeps a single leader per term', () =>
 *   runSeeds('raft election safety', { count: 32 }, async (seed) => {
 *     const sim = new Simulation({ seed })
 *     // ...
 *   }))
 * ```
 */
export async function runSeeds(
  name: string,
  options: RunSeedsOptions,
  body: (seed: number) => void | Promise<void>,
): Promise<void> {
  for (const seed of seedsToRun(options)) {
    await yieldToEventLoop()
    try {
      await body(seed)
    } catch (thrown) {
      const error = toError(thrown)
      const line = reproduceLine(seed)
      console.error(`[sim] ${name}: failed with seed ${seed}\n${line}`)
      if (!error.message.includes(line)) error.message = `${error.message}\n${name}: ${line}`
      throw error
    }
  }
}
