import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LogEntry } from '@socketcloud/core'
import { FileLogStore } from '@socketcloud/storage'
import type { BenchCase } from '../src/harness'
import { defineBenchmark, round } from '../src/harness'

const ENTRY_BYTES = 100
const BATCH_SIZES = [1, 16, 256] as const
const CONCURRENT_WRITERS = 64

/**
 * FileLogStore appends with fsync: one `write(..., { sync: true })` of 1, 16 or 256 entries of 100 B
 * at a time (appends/s, p50/p99 per synced batch, fsyncs per batch), and 64 concurrent single-entry
 * sync writers to show group commit. Baseline in the same run: the same bytes written with a raw
 * FileHandle write + fdatasync per batch, i.e. what this disk allows without our framing and checks.
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
    try {
      for (const batchSize of BATCH_SIZES) {
        const store = await FileLogStore.open(join(root, `log-${batchSize}`))
        let next = 1
        const batch = (): LogEntry[] => {
          const entries: LogEntry[] = []
          for (let i = 0; i < batchSize; i++) entries.push({ index: next++, term: 1, kind: 'command', data })
          return entries
        }
        const syncsBefore = store.stats.syncs
        const writesBefore = store.stats.writes
        const row = await ctx.measureLatency(`sync batch of ${batchSize}`, () =>
          store.write({ entries: batch() }, { sync: true }),
        )
        const batches = store.stats.writes - writesBefore
        cases.push(appendRow(row, batchSize, (store.stats.syncs - syncsBefore) / batches))
        await store.close()
        ctx.log(`batch ${batchSize}: ${batches} batches, ${store.stats.syncs - syncsBefore} fsyncs`)

        const handle = await open(join(root, `raw-${batchSize}.bin`), 'w')
        const bytes = new Uint8Array(batchSize * (ENTRY_BYTES + 25)).fill(7)
        let position = 0
        const raw = await ctx.measureLatency(`raw write+fdatasync of ${bytes.length} B`, async () => {
          await handle.write(bytes, 0, bytes.length, position)
          position += bytes.length
          await handle.datasync()
        })
        baseline.push(appendRow(raw, batchSize, 1))
        await handle.close()
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
      const writes = store.stats.writes - writesBefore
      concurrent.appends_per_sec = concurrent.ops_per_sec
      concurrent.fsyncs_per_append = round((store.stats.syncs - syncsBefore) / writes)
      cases.push(concurrent)
      await store.close()
    } finally {
      await rm(root, { recursive: true, force: true })
    }
    return {
      name: 'storage',
      cases,
      baseline: { 'raw FileHandle write + fdatasync (same bytes per batch)': baseline },
      notes: [
        'ops_per_sec counts synced batches; appends_per_sec = batches/s x batch size; p50/p99 are per synced batch.',
        `Log files under os.tmpdir() (${tmpdir()}); figures depend on that device's fsync latency.`,
      ],
    }
  },
})

function appendRow(row: BenchCase, batchSize: number, fsyncsPerBatch: number): BenchCase {
  return {
    ...row,
    batch: batchSize,
    appends_per_sec: Math.round(row.ops_per_sec * batchSize),
    fsyncs_per_batch: round(fsyncsPerBatch),
  }
}
