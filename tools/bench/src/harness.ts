import { LatencyRecorder, median } from './stats'

/**
 * The shared benchmark harness. A benchmark module default-exports `defineBenchmark({...})`; the
 * runner (`npm run bench -- <name>`) calls `run(ctx)` and prints a header, a table and, with
 * `--json`, a last line `{"name","cases":[...],"baseline":{...}}` that scripts can compare.
 *
 * Measurement: a warm-up (JIT, caches, connections), then `runs` timed runs of `durationMs` each.
 * Latency cases time every operation into one HdrHistogram across the runs; ops/s is the median of
 * the runs' rates, so one noisy run does not decide the figure.
 */
export interface BenchCase {
  case: string
  ops_per_sec: number
  p50_us?: number
  p99_us?: number
  [extra: string]: string | number | undefined
}

export interface BenchReport {
  name: string
  cases: BenchCase[]
  /** Baselines measured in the same run (raw node:net, JSON, etcd, ...), keyed by what they are. */
  baseline?: Record<string, BenchCase[]>
  notes?: string[]
}

export interface MeasureOptions {
  warmupMs?: number
  durationMs?: number
  runs?: number
}

export interface BenchContext {
  /** `--quick`: shorter runs for smoke checks; figures are then indicative only. */
  readonly quick: boolean
  /** Times `operation` one call at a time; every call is one operation. */
  measureLatency(caseName: string, operation: () => unknown, options?: MeasureOptions): Promise<BenchCase>
  /**
   * Calls `batch` repeatedly; each call returns how many operations it completed (and, optionally, how
   * many bytes). For throughput of pipelined or one-way work where per-operation timing is meaningless.
   */
  measureThroughput(
    caseName: string,
    batch: () =>
      | number
      | { operations: number; bytes?: number }
      | Promise<number | { operations: number; bytes?: number }>,
    options?: MeasureOptions,
  ): Promise<BenchCase>
  /** A fresh recorder for benchmarks that time operations themselves (e.g. commit latency). */
  latencyRecorder(): LatencyRecorder
  /** Log a progress line (stderr, so `--json` output stays clean). */
  log(message: string): void
}

export interface Benchmark {
  name: string
  description: string
  run(context: BenchContext): Promise<BenchReport>
}

export function defineBenchmark(benchmark: Benchmark): Benchmark {
  return benchmark
}

function resolve(options: MeasureOptions | undefined, quick: boolean): Required<MeasureOptions> {
  return {
    warmupMs: options?.warmupMs ?? (quick ? 200 : 1000),
    durationMs: options?.durationMs ?? (quick ? 300 : 2000),
    runs: options?.runs ?? (quick ? 2 : 5),
  }
}

const nowNs = (): bigint => process.hrtime.bigint()

export function createContext(quick: boolean): BenchContext {
  return {
    quick,
    log: (message) => process.stderr.write(`  ${message}\n`),
    latencyRecorder: () => new LatencyRecorder(),

    async measureLatency(caseName, operation, options) {
      const { warmupMs, durationMs, runs } = resolve(options, quick)
      const warmupEnd = nowNs() + BigInt(warmupMs) * 1_000_000n
      while (nowNs() < warmupEnd) await operation()
      const recorder = new LatencyRecorder()
      const rates: number[] = []
      for (let run = 0; run < runs; run++) {
        const start = nowNs()
        const end = start + BigInt(durationMs) * 1_000_000n
        let operations = 0
        let last = start
        while (last < end) {
          await operation()
          const now = nowNs()
          recorder.recordNanoseconds(Number(now - last))
          last = now
          operations++
        }
        rates.push(operations / (Number(last - start) / 1e9))
      }
      return {
        case: caseName,
        ops_per_sec: Math.round(median(rates)),
        p50_us: round(recorder.percentileMicroseconds(50)),
        p99_us: round(recorder.percentileMicroseconds(99)),
        samples: recorder.count,
      }
    },

    async measureThroughput(caseName, batch, options) {
      const { warmupMs, durationMs, runs } = resolve(options, quick)
      const warmupEnd = nowNs() + BigInt(warmupMs) * 1_000_000n
      while (nowNs() < warmupEnd) await batch()
      const rates: number[] = []
      const byteRates: number[] = []
      for (let run = 0; run < runs; run++) {
        const start = nowNs()
        const end = start + BigInt(durationMs) * 1_000_000n
        let operations = 0
        let bytes = 0
        let now = start
        while (now < end) {
          const done = await batch()
          if (typeof done === 'number') operations += done
          else {
            operations += done.operations
            bytes += done.bytes ?? 0
          }
          now = nowNs()
        }
        const seconds = Number(now - start) / 1e9
        rates.push(operations / seconds)
        byteRates.push(bytes / seconds)
      }
      const result: BenchCase = { case: caseName, ops_per_sec: Math.round(median(rates)) }
      const megabytes = median(byteRates) / 1e6
      if (megabytes > 0) result.mb_per_sec = round(megabytes)
      return result
    },
  }
}

export function round(value: number): number {
  if (!Number.isFinite(value)) return value
  return value >= 100 ? Math.round(value) : Math.round(value * 100) / 100
}
