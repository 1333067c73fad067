/**
 * Goal: the watch hub replays retained history from a revision, filters by prefix, delivers live
 * events in revision order, refuses revisions older than its bounded history as compacted, and after
 * a restore tells watchers that would miss changes that they were compacted.
 * Method: a hub fed consecutive events by hand, with recording sinks.
 */
import { describe, expect, it } from 'vitest'
import { WatchHub, type WatchEvent, type WatchSink } from './watch-hub'

function recorder() {
  const seen: Array<WatchEvent | { type: 'synced' | 'compacted'; revision: number }> = []
  const sink: WatchSink = {
    event: (event) => seen.push(event),
    synced: (revision) => seen.push({ type: 'synced', revision }),
    compacted: (revision) => seen.push({ type: 'compacted', revision }),
  }
  return { seen, sink }
}

const put = (key: string, revision: number): WatchEvent => ({
  type: 'put',
  key,
  value: new Uint8Array([revision]),
  revision,
  createRevision: revision,
  version: 1,
})

describe('WatchHub', () => {
  it('replays from a revision, then syncs, then streams live events under the prefix', () => {
    const hub = new WatchHub()
    hub.record(put('a/1', 1))
    hub.record(put('b/1', 2))
    hub.record({ type: 'delete', key: 'a/1', revision: 3 })
    const { seen, sink } = recorder()
    expect(hub.watch('a/', 2, sink).ok).toBe(true)
    hub.record(put('a/2', 4))
    hub.record(put('b/2', 5))
    expect(seen.map((item) => `${item.type}:${item.revision}`)).toEqual(['delete:3', 'synced:3', 'put:4'])
  })

  it('starts at the next revision without from_revision and cancels cleanly', () => {
    const hub = new WatchHub()
    hub.record(put('k', 1))
    const { seen, sink } = recorder()
    const start = hub.watch('', undefined, sink)
    hub.record(put('k', 2))
    if (start.ok) start.cancel()
    hub.record(put('k', 3))
    expect(seen.map((item) => `${item.type}:${item.revision}`)).toEqual(['synced:1', 'put:2'])
    expect(hub.watcherCount).toBe(0)
  })

  it('keeps a bounded history and answers older revisions as compacted', () => {
    const hub = new WatchHub({ watchHistoryEventsMax: 3 })
    for (let revision = 1; revision <= 5; revision++) hub.record(put('k', revision))
    expect(hub.firstRevision).toBe(3)
    expect(hub.watch('', 2, recorder().sink)).toEqual({ ok: false, compactRevision: 3 })
    const { seen, sink } = recorder()
    expect(hub.watch('', 3, sink).ok).toBe(true)
    expect(seen.map((item) => item.revision)).toEqual([3, 4, 5, 5])
  })

  it('bounds the history by bytes too', () => {
    const hub = new WatchHub({ watchHistoryBytesMax: 300 })
    for (let revision = 1; revision <= 10; revision++) {
      hub.record({ ...put('k', revision), value: new Uint8Array(100) } as WatchEvent)
    }
    expect(hub.firstRevision).toBeGreaterThan(7)
  })

  it('restarts history at a restored revision and compacts watchers that would miss changes', () => {
    const hub = new WatchHub()
    hub.record(put('k', 1))
    const behind = recorder()
    hub.watch('', undefined, behind.sink)
    const ahead = recorder()
    hub.watch('', 50, ahead.sink)
    hub.reset(20)
    expect(behind.seen.at(-1)).toEqual({ type: 'compacted', revision: 21 })
    expect(hub.watch('', 5, recorder().sink)).toEqual({ ok: false, compactRevision: 21 })
    hub.record(put('k', 21))
    expect(hub.watcherCount).toBe(1)
    expect(ahead.seen.filter((item) => item.type === 'put')).toEqual([])
  })

  it('drops a sink that throws and reports it instead of throwing into the caller', () => {
    const errors: Error[] = []
    const hub = new WatchHub({ onSinkError: (error) => errors.push(error) })
    hub.watch('', undefined, {
      event: () => {
        throw new Error('sink broke')
      },
      synced: () => undefined,
      compacted: () => undefined,
    })
    expect(() => hub.record(put('k', 1))).not.toThrow()
    expect(errors.map((error) => error.message)).toEqual(['sink broke'])
    expect(hub.watcherCount).toBe(0)
  })
})
