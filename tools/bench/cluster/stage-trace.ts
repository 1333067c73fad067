/**
 * Opt-in stage tracing for one benchmark node (`SOCKETCLOUD_STAGE_TRACE=<file>`): wraps the runtime's
 * inbound boundary, Ready handling, storage writes and fsyncs, sends and applies, and records
 * wall-clock microsecond timestamps (comparable across the three processes on one machine). The
 * file is written when the process stops; `stage-report.ts` lines the three files up per request.
 * Diagnostic only: it reaches into private members, so it is never enabled in a measured run.
 */
import { writeFileSync } from 'node:fs'
import { PerformanceObserver } from 'node:perf_hooks'

type Fn = (...args: unknown[]) => unknown

const events: string[] = []
const origin = performance.timeOrigin * 1000

export function stamp(name: string, detail = '', atMicroseconds = origin + performance.now() * 1000): void {
  if (events.length < 2_000_000) events.push(`${Math.round(atMicroseconds)} ${name} ${detail}`)
}

// Collections are stamped at their start, with their duration, so a slow request shows the pause.
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as { detail?: { kind?: number } }).detail?.kind
    stamp('gc', `${Math.round(entry.duration * 1000)}us kind=${kind}`, origin + entry.startTime * 1000)
  }
}).observe({ entryTypes: ['gc'] })

function wrap(target: object, key: string, before: (args: unknown[]) => string | null, after?: string): void {
  const record = target as Record<string, Fn>
  const original = record[key]!
  record[key] = function (this: unknown, ...args: unknown[]) {
    const label = before(args)
    const result = original.apply(this, args)
    if (after && label !== null && result instanceof Promise) {
      result.then(
        () => stamp(after, label),
        () => undefined,
      )
    }
    return result
  }
}

/** Instruments a runtime and its log store before `start()`. */
export function instrument(runtime: object, logStore: object): void {
  wrap(runtime, 'receive', (args) => {
    const event = args[0] as { bytes: Uint8Array }
    stamp('recv', String(event.bytes.length))
    return null
  })
  wrap(
    runtime,
    'handleReady',
    (args) => {
      const ready = args[0] as {
        entries: unknown[]
        committed: unknown[]
        hardState: unknown
        mustSync: boolean
        messages: unknown[]
        messagesBeforePersist?: unknown[]
      }
      const label = `e=${ready.entries.length} c=${ready.committed.length} hs=${ready.hardState ? 1 : 0} sync=${ready.mustSync ? 1 : 0} m=${ready.messages.length} mb=${ready.messagesBeforePersist?.length ?? 0}`
      stamp('ready', label)
      return label
    },
    'ready-done',
  )
  wrap(runtime, 'sendEnvelope', (args) => {
    stamp('send', String(args[1]))
    return null
  })
  wrap(runtime, 'applyEntry', () => {
    stamp('apply')
    return null
  })
  wrap(
    logStore,
    'write',
    (args) => {
      const options = args[1] as { sync: boolean }
      stamp('store-write', options.sync ? 'sync' : 'nosync')
      return options.sync ? 'sync' : 'nosync'
    },
    'store-write-done',
  )
  wrap(logStore, 'writeActive', () => (stamp('pwrite'), 'x'), 'pwrite-done')
  wrap(logStore, 'syncActive', () => (stamp('fdatasync'), 'x'), 'fdatasync-done')
}

export function dump(file: string): void {
  writeFileSync(file, events.join('\n') + '\n')
}
