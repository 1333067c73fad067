import type { FileHandle } from 'node:fs/promises'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LogEntry } from '@socketcloud/core'
import { FileLogStore } from '@socketcloud/storage'
import type { BenchCase, BenchContext } from '../src/harness'
import { defineBenchmark, round } from '../src/harness'
import type { LatencyRecorder } from '../src/stats'
import { median } from '../src/stats'

const ENTRY_BYTES = 100
/** Our frame (8) + type (1) + index, term, kind (17) around each 100-byte entry. */
const RECORD_BYTES = ENTRY_BYTES + 26
const BATCH_SIZES = [1, 16, 256] as const
const CONCURRENT_WRITERS = 64

const nowNs = (): bigint => process.hrtime.bigint()

interface Timed {
  readonly name: string
  readonly operation: () => Promise<void>
  readonly recorder: LatencyRecorder
  readonly rates: number[]
}

/**
 * Runs the contenders in alternating rounds of `roundMs` so that both see the same disk: fsync
 * latency on a shared machine drifts by 10x over seconds, which would otherwise decide the comparison.
 */
async function interleaved(ctx: BenchContext, contenders: readonly Timed[]): Promise<void> {
  const rounds = ctx.quick ? 2 : 5
  const roundMs = ctx.quick ? 300 : 2000
  for (const contender of contenders) {
    const warmupEnd = nowNs() + BigInt(ctx.quick ? 200 : 1000) * 1_000_000n
    while (nowNs() < warmupEnd) await contender.operation()
  }
  for (let round = 0; round < rounds; round++) {
    for (const contender of contenders) {
      const start = nowNs()
      const end = start + BigInt(roundMs) * 1_000_000n
      let last = start
      let operations = 0
      while (last < end) {
        await contender.operation()
        const now = nowNs()
        contender.recorder.recordNanoseconds(Number(now - last))
        last = now
        operations++
      }
      contender.rates.push(operations / (Number(last - start) / 1e9))
    }
  }
}

function row(contender: Timed, batch: number, fsyncsPerBatch: number): BenchCase {
  const batchesPerSecond = median(contender.rates)
  return {
    case: contender.name,
    ops_per_sec: Math.round(batchesPerSecond),
    p50_us: round(contender.recorder.percentileMicroseconds(50)),
    p99_us: round(contender.recorder.percentileMicroseconds(99)),
    samples: contender.recorder.count,
    batch,
    appends_per_sec: Math.round(batchesPerSecond * batch),
    fsyncs_per_batch: round(fsyncsPerBatch),
  }
}

/**
 * FileLogStore appends with fsync: one `write(..., { sync: true })` of 1, 16 or 256 entries of 100 B
 * at a time (appends/s, p50/p99 per synced batch, fsyncs per batch), and 64 concurrent single-entry
 * sync writers to show group commit. Baseline, in alternating rounds of the same run: the same number
 * of bytes written with a raw FileHandle write + fdatasync per batch — what this disk allows without
 * our framing, checksums and bookkeeping.
 */
export default defineBenchmark({
  name: 'storage',
  description:
    'FileLogStore: synced appends of 100 B entries in batches of 1/16/256, group commit; raw fdatasync baseline',
  async run(ctx) {
    const root = await mkdtemp(join(tmpdir(), 'socketcloud-bench-storage-'))
    const data = new Uint8Array(ENTRY_BYTES).fill(7)
    const cases: BenchCase[] = []
    const baseline: BenchCase[] = []
    const handles: FileHandle[] = []
    try {
      for (const batchSize of BATCH_SIZES) {
        const store = await FileLogStore.open(join(root, `log-${batchSize}`))
        let next = 1
        const batch = (): LogEntry[] => {
          const entries: LogEntry[] = []
          for (let i = 0; i < batchSize; i++) entries.push({ index: next++, term: 1, kind: 'command', data })
          return entries
        }
        const handle = await open(join(root, `raw-${batchSize}.bin`), 'w')
        handles.push(handle)
        const bytes = new Uint8Array(batchSize * RECORD_BYTES).fill(7)
        let position = 0
        const ours: Timed = {
          name: `sync batch of ${batchSize}`,
          operation: () => store.write({ entries: batch() }, { sync: true }),
          recorder: ctx.latencyRecorder(),
          rates: [],
        }
        const raw: Timed = {
          name: `raw write+fdatasync of ${bytes.length} B`,
          operation: async () => {
            await handle.write(bytes, 0, bytes.length, position)
            position += bytes.length
            await handle.datasync()
          },
          recorder: ctx.latencyRecorder(),
          rates: [],
        }
        const syncsBefore = store.stats.syncs
        const writesBefore = store.stats.writes
        await interleaved(ctx, [ours, raw])
        const batches = store.stats.writes - writesBefore
        const fsyncs = store.stats.syncs - syncsBefore
        ctx.log(`batch ${batchSize}: ${batches} batches, ${fsyncs} fsyncs`)
        cases.push(row(ours, batchSize, fsyncs / batches))
        baseline.push(row(raw, batchSize, 1))
        await store.close()
      }

      const store = await FileLogStore.open(join(root, 'log-concurrent'))
      let next = 1
      const syncsBefore = store.stats.syncs
      const writesBefore = store.stats.writes
      const concurrent = await ctx.measureThroughput(
        `${CONCURRENT_WRITERS} concurrent sync writers, 1 entry each`,
        async () => {
          const writes: Promise<void>[] = []
          for (let i = 0; i < CONCURRENT_WRITERS; i++) {
            writes.push(
              store.write({ entries: [{ index: next++, term: 1, kind: 'command', data }] }, { sync: true }),
            )
          }
          await Promise.all(writes)
          return CONCURRENT_WRITERS
        },
      )
      concurrent.appends_per_sec = concurrent.ops_per_sec
      concurrent.fsyncs_per_append = round(
        (store.stats.syncs - syncsBefore) / (store.stats.writes - writesBefore),
      )
      cases.push(concurrent)
      await store.close()
    } finally {
      for (const handle of handles) await handle.close()
      await rm(root, { recursive: true, force: true })
    }
    return {
      name: 'storage',
      cases,
      baseline: { 'raw FileHandle write + fdatasync of the same bytes, alternating rounds': baseline },
      notes: [
        'ops_per_sec counts synced batches; appends_per_sec = batches/s x batch size; p50/p99 are per synced batch.',
        'Store and baseline run in alternating rounds so both see the same disk conditions.',
        `Log files under os.tmpdir() (${tmpdir()}); figures depend on that device's fsync latency.`,
      ],
    }
  },
})
