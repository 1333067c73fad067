/**
 * Seed sweeps (until `@socketcloud/sim`'s runSeeds is available): runs `body` for `count` seeds
 * starting at `base` (or only SIM_SEED when set) and, on the first failure, rethrows with the line
 * that replays it.
 */
export function seedsToRun(defaultCount: number, base: number): number[] {
  const only = process.env.SIM_SEED
  if (only !== undefined && only !== '') return [Number(only)]
  const fromEnvironment = process.env.SIM_SEEDS
  const count =
    fromEnvironment !== undefined && fromEnvironment !== '' ? Number(fromEnvironment) : defaultCount
  return Array.from({ length: count }, (_, position) => base + position)
}

export async function runSeeds(
  name: string,
  seeds: readonly number[],
  body: (seed: number) => void,
): Promise<void> {
  for (const seed of seeds) {
    // Yield between seeds so the test worker stays responsive during a long synchronous sweep.
    await new Promise<void>((resolve) => setImmediate(resolve))
    try {
      body(seed)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      console.error(`${name} failed: ${message}\nreproduce: SIM_SEED=${seed}`)
      throw new Error(`${name} seed ${seed}: ${message}\nreproduce: SIM_SEED=${seed}`, { cause: error })
    }
  }
}
