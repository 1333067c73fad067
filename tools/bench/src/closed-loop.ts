import { round, type BenchCase, type BenchContext } from './harness'

/** One operation of a worker; `iteration` counts that worker's operations from 0. */
export type Operation = (worker: number, iteration: number) => Promise<void>

export interface ClosedLoopOptions {
  readonly label: string
  readonly concurrency: number
  readonly durationMs: number
  /** Untimed run before the measured one (connections, JIT, caches). @default min(1 s, durationMs / 3) */
  readonly warmupMs?: number
}

/**
 * Closed-loop load: `concurrency` workers, each with exactly one operation outstanding, for
 * `durationMs` after a warm-up. Every operation's latency goes into one HdrHistogram; failures are
 * counted (and excluded from latency), never hidden.
 */
export async function closedLoop(
  ctx: BenchContext,
  operation: Operation,
  options: ClosedLoopOptions,
): Promise<BenchCase> {
  let failures = 0
  let firstFailure: string | undefined
  const worker = async (
    id: number,
    until: number,
    recorder?: ReturnType<BenchContext['latencyRecorder']>,
  ): Promise<number> => {
    let done = 0
    for (let i = 0; Date.now() < until; i++) {
      const start = process.hrtime.bigint()
      try {
        await operation(id, i)
        recorder?.recordNanoseconds(Number(process.hrtime.bigint() - start))
        done++
      } catch (error) {
        failures++
        firstFailure ??= error instanceof Error ? error.message : String(error)
      }
    }
    return done
  }
  const warmupMs = options.warmupMs ?? Math.min(1000, options.durationMs / 3)
  const warmupEnd = Date.now() + warmupMs
  await Promise.all(Array.from({ length: options.concurrency }, (_, id) => worker(id, warmupEnd)))
  failures = 0
  const recorder = ctx.latencyRecorder()
  const start = process.hrtime.bigint()
  const until = Date.now() + options.durationMs
  const counts = await Promise.all(
    Array.from({ length: options.concurrency }, (_, id) => worker(id, until, recorder)),
  )
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const total = counts.reduce((sum, count) => sum + count, 0)
  ctx.log(
    `${options.label}: ${total} ops in ${seconds.toFixed(1)} s, ${failures} failed${firstFailure ? ` (first: ${firstFailure})` : ''}`,
  )
  return {
    case: options.label,
    ops_per_sec: Math.round(total / seconds),
    p50_us: round(recorder.percentileMicroseconds(50)),
    p99_us: round(recorder.percentileMicroseconds(99)),
    failed: failures,
  }
}
