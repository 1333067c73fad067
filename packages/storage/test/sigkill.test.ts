/**
 * Goal: a writer process killed with SIGKILL at an arbitrary moment loses no write it had
 * acknowledged with sync: true, and the log it leaves opens cleanly.
 * Method: a child process appends 100-byte entries with several writes in flight (two in three with
 * sync: true, which it acknowledges on stdout once they resolve) and compacts every 500 entries. The
 * parent kills it once enough acknowledgements have arrived, reopens the directory, and checks that
 * every acknowledged entry above the compaction point is there with its exact bytes, that the log is
 * contiguous, and that no acknowledged compaction was undone.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FileLogStore } from '@socketcloud/storage'
import { payloadFor } from './fixtures/payload'
import { TempDirs } from './temp-dir'

const dirs = new TempDirs()
afterEach(() => dirs.cleanup())

const ACKS_BEFORE_KILL = 2000

describe('FileLogStore under SIGKILL', () => {
  it('keeps every write acknowledged with sync: true', async () => {
    const directory = await dirs.make()
    const child = spawn(
      process.execPath,
      [
        '--conditions=@socketcloud/source',
        '--import',
        'tsx',
        join(import.meta.dirname, 'fixtures', 'wal-writer.ts'),
        directory,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const acknowledged: number[] = []
    let compactedAcknowledged = 0
    let stderr = ''
    let buffered = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const killed = new Promise<void>((resolve, reject) => {
      child.on('error', reject)
      child.on('exit', (code, signal) => {
        if (signal === 'SIGKILL') resolve()
        else reject(new Error(`writer exited early (code ${code}): ${stderr}`))
      })
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString()
        const lines = buffered.split('\n')
        buffered = lines.pop()!
        for (const line of lines) {
          const [kind, value] = line.split(' ')
          if (kind === 'ack') acknowledged.push(Number(value))
          else if (kind === 'compacted')
            compactedAcknowledged = Math.max(compactedAcknowledged, Number(value))
        }
        if (acknowledged.length >= ACKS_BEFORE_KILL && child.exitCode === null && !child.killed)
          child.kill('SIGKILL')
      })
    })
    await killed

    const store = await FileLogStore.open(directory, { segmentBytesMax: 16 * 1024 })
    const state = await store.load()
    expect(state.compactedIndex).toBeGreaterThanOrEqual(compactedAcknowledged)
    const first = state.entries[0]?.index ?? state.compactedIndex + 1
    expect(first).toBe(state.compactedIndex + 1)
    state.entries.forEach((entry, position) => {
      expect(entry.index).toBe(first + position)
      expect(entry.data).toEqual(payloadFor(entry.index))
    })
    const lastIndex = state.compactedIndex + state.entries.length
    const lost = acknowledged.filter((index) => index > lastIndex)
    expect(lost).toEqual([])
    expect(acknowledged.length).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL)
    expect(state.hardState?.commit ?? 0).toBeGreaterThanOrEqual(Math.max(...acknowledged))
    await store.close()
  }, 180_000)
})
