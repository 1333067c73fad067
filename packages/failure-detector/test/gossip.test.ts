/**
 * Goal: a membership change piggybacked on heartbeats reaches every member within O(log n) protocol
 * rounds, without all-to-all messages. Method: 100 and 1,000 pure cores on the deterministic event
 * loop (1 ms links; no loss, then 1% loss); one member leaves gracefully or a new member is admitted
 * at one node, and we count rounds (heartbeat periods) until every view has the change. In lockstep
 * every node runs its round at the same instant, so a round is one ping/ack hop — the classic
 * measure; with staggered phases (as in real clusters) a change can take several hops per period.
 * Printed figures go to the README.
 */
import { describe, expect, it } from 'vitest'
import { MembershipCluster, seeds, testNodeIds } from './support/cluster'

const INTERVAL_MS = 100

function roundsUntil(cluster: MembershipCluster, done: () => boolean, timeMsMax: number): number {
  const startedAt = cluster.now
  const reached = cluster.runWhile(() => !done(), timeMsMax)
  expect(reached, 'the change reached every member').toBe(true)
  return Math.ceil((cluster.now - startedAt) / INTERVAL_MS)
}

describe('gossip dissemination', () => {
  for (const { size, dropRate, lockstep } of [
    { size: 100, dropRate: 0, lockstep: true },
    { size: 1_000, dropRate: 0.01, lockstep: true },
    { size: 1_000, dropRate: 0.01, lockstep: false },
  ]) {
    const timing = lockstep ? 'lockstep rounds' : 'staggered rounds'
    it(`a leave reaches all ${size} members in O(log n) ${timing} (loss ${dropRate * 100}%)`, () => {
      const results: number[] = []
      const seedList = seeds(size >= 1_000 ? 1 : 3)
      for (const seed of seedList) {
        const cluster = new MembershipCluster({
          seed,
          size,
          tickMs: 20,
          network: { latencyMs: 1, jitterMs: 0, dropRate },
          lockstep,
          init: { heartbeatIntervalMs: INTERVAL_MS },
        })
        cluster.start()
        cluster.runFor(500)
        const leaver = cluster.ids[seed % size]!
        cluster.dispatch(leaver, cluster.core(leaver).leave())
        const others = cluster.ids.filter((id) => !id.equals(leaver))
        const rounds = roundsUntil(
          cluster,
          () => others.every((id) => cluster.core(id).member(leaver)?.status === 'left'),
          10_000,
        )
        results.push(rounds)
        // Heartbeats go to monitored peers plus one probe: about 2·(9+1) messages per node per round.
        const perNodePerRound = cluster.messagesDelivered / size / ((cluster.now - 0) / INTERVAL_MS)
        expect(perNodePerRound).toBeLessThan(25)
        expect(rounds).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(size)))
      }
      console.info(
        `[failure-detector] gossip: leave reached all ${size} members (loss ${dropRate * 100}%, ${timing}) in ${results.join(', ')} rounds (log2 n = ${Math.log2(size).toFixed(1)})`,
      )
    })
  }

  it('a member admitted at one node becomes known to all 1,000', () => {
    const cluster = new MembershipCluster({
      seed: 11,
      size: 1_000,
      tickMs: 20,
      lockstep: true,
      network: { latencyMs: 1, jitterMs: 0, dropRate: 0 },
    })
    cluster.start()
    cluster.runFor(300)
    const newcomer = testNodeIds(1, 999_999)[0]!
    const admitter = cluster.ids[0]!
    cluster.dispatch(admitter, cluster.core(admitter).addMember(newcomer, cluster.now))
    const rounds = roundsUntil(
      cluster,
      () => cluster.ids.every((id) => cluster.core(id).member(newcomer) !== undefined),
      10_000,
    )
    console.info(`[failure-detector] gossip: a join reached all 1000 members in ${rounds} lockstep rounds`)
    expect(rounds).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(1_000)))
    expect(cluster.core(cluster.ids[500]!).member(newcomer)?.upNumber).toBe(1_000)
  })
})
