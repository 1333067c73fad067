import { AssertionError } from 'node:assert'

// The compliance suites register tests with @vitest/runner (the module `vitest` re-exports
// `describe`/`it` from) rather than `vitest` itself: importing `vitest` outside a test worker throws,
// and these suites are exported from the simulator's main entry, which benchmarks and tools import.

/** What every suite's `setup` returns: the thing under test and how to clean it up. */
export interface ComplianceSetup<T> {
  readonly impl: T
  teardown(): void | Promise<void>
}

export type SetupFunction<T> = () => ComplianceSetup<T> | Promise<ComplianceSetup<T>>

/**
 * Drives the world until a promise settles. Real implementations settle on their own (the default
 * just awaits); simulated ones need the simulation to run (`(promise) => sim.await(promise)`).
 */
export type Driver = <T>(promise: Promise<T>) => Promise<T>

export const awaitDirectly: Driver = (promise) => promise

/** Runs `body` with a fresh setup and always tears it down. */
export async function withSetup<T>(setup: SetupFunction<T>, body: (impl: T) => Promise<void>): Promise<void> {
  const { impl, teardown } = await setup()
  try {
    await body(impl)
  } finally {
    await teardown()
  }
}

/** Awaits a promise expected to reject and returns its reason (fails if it resolves). */
export async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await promise
  } catch (reason) {
    return reason
  }
  throw new AssertionError({ message: `${what}: expected a rejection, but it resolved` })
}

export function bytesOf(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let state = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    bytes[i] = state & 0xff
  }
  return bytes
}
