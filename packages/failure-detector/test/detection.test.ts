/**
 * Goal: with the default settings (100 ms heartbeats), a crashed node is declared failed by every
 * other node in under a second, and a noisy but live network produces no false alarm. Method: drive
 * pure Membership cores on the deterministic event loop (test/support/cluster.ts), one seed per run
 * (SIM_SEEDS sets how many, SIM_SEED=<n> replays one); detection times are printed as p50/p99.
 */
import { describe, expect, it } from 'vitest'
import { MembershipCluster, percentile, seeds } from './support/cluster'

const HEAVY_JITTER = { latencyMs: 5, jitterMs: 20, dropRate: 0.01 }

function failedEvents(cluster: MembershipCluster) {
  return cluster.events.filter((record) => record.event.type === 'level' && record.event.to === 'failed')
}

describe('crash detection', () => {
  it('every other node marks a crashed node failed in under a second', () => {
    const detectionMs: number[] = []
    for (const seed of seeds(20)) {
      try {
        const cluster = new MembershipCluster({ seed, size: 5, network: HEAVY_JITTER, wire: seed <= 2 })
        cluster.start()
        cluster.runFor(5_000)
        expect(failedEvents(cluster), 'no false alarm before the crash').toEqual([])
        const victim = cluster.ids[seed % 5]!
        const crashedAt = cluster.now
        cluster.crash(victim)
        const observers = cluster.ids.filter((id) => !id.equals(victim))
        const failedAt = new Map<string, number>()
        cluster.onEvent = (record) => {
          const event = record.event
          if (event.type === 'level' && event.to === 'failed' && event.peer.equals(victim)) {
            failedAt.set(record.node.hex, record.atMs)
          }
        }
        cluster.runWhile(() => failedAt.size < observers.length, 5_000)
        expect(failedAt.size, 'every observer declared the crashed node failed').toBe(observers.length)
        for (const observer of observers) {
          const elapsed = failedAt.get(observer.hex)! - crashedAt
          detectionMs.push(elapsed)
          expect(elapsed).toBeLessThan(1_000)
        }
        // Suspicion spreads and times out: the node ends up dead in every surviving view.
        cluster.runFor(3_000)
        for (const observer of observers) {
          expect(cluster.core(observer).member(victim)?.status).toBe('dead')
        }
      } catch (error) {
        console.error(`crash detection failed; reproduce with SIM_SEED=${seed}`)
        throw error
      }
    }
    console.info(
      `[failure-detector] crash detection over ${detectionMs.length} observations: p50 ${percentile(detectionMs, 50).toFixed(0)} ms, p99 ${percentile(detectionMs, 99).toFixed(0)} ms, max ${Math.max(...detectionMs).toFixed(0)} ms`,
    )
  })
})

describe('false positives', () => {
  it('an hour of 5 ms ± 20 ms jitter and 1% loss marks no live node failed', () => {
    let falsePositives = 0
    let suspectLevels = 0
    const seedList = seeds(1)
    for (const seed of seedList) {
      const cluster = new MembershipCluster({ seed, size: 5, network: HEAVY_JITTER })
      cluster.start()
      cluster.runFor(60 * 60 * 1000)
      falsePositives += failedEvents(cluster).length
      suspectLevels += cluster.events.filter(
        (record) => record.event.type === 'level' && record.event.to === 'suspect',
      ).length
      for (const id of cluster.ids) {
        for (const member of cluster.core(id).members()) expect(member.status).toBe('alive')
      }
      expect(cluster.messagesDelivered).toBeGreaterThan(1_000_000)
    }
    console.info(
      `[failure-detector] 1 h virtual time x ${seedList.length} seed(s), 5 nodes, jitter 5±20 ms, 1% loss: ${falsePositives} false positives (failed), ${suspectLevels} transient suspect levels`,
    )
    expect(falsePositives).toBe(0)
  })
})

describe('determinism', () => {
  it('the same seed replays the same run, event for event', () => {
    const run = (seed: number) => {
      const cluster = new MembershipCluster({ seed, size: 5, network: HEAVY_JITTER })
      cluster.start()
      cluster.runFor(3_000)
      cluster.crash(cluster.ids[1]!)
      cluster.runFor(4_000)
      return {
        hash: cluster.sim.traceHash(),
        events: cluster.events.map((record) => `${record.atMs}:${JSON.stringify(record)}`),
        delivered: cluster.messagesDelivered,
      }
    }
    const first = run(42)
    expect(run(42)).toEqual(first)
    expect(first.events.length).toBeGreaterThan(0)
    expect(run(43).hash).not.toBe(first.hash)
  })
})
