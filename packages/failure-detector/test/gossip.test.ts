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
import type { NodeId } from '@socketcloud/core'
import type { MemberStatus } from '../src/index'
import { MembershipCluster, seeds, testNodeIds } from './support/cluster'

const INTERVAL_MS = 100

function roundsUntil(cluster: MembershipCluster, done: () => boolean, timeMsMax: number): number {
  const startedAt = cluster.now
  const reached = cluster.runWhile(() => !done(), timeMsMax)
  expect(reached, 'the change reached every member').toBe(true)
  return Math.ceil((cluster.now - startedAt) / INTERVAL_MS)
}

/** Nodes whose view has reported `member` reaching `status`, kept up to date from the event stream. */
function watch(cluster: MembershipCluster, member: NodeId, status: MemberStatus): Set<string> {
  const seen = new Set<string>()
  cluster.onEvent = (record) => {
    const event = record.event
    if (event.type === 'status' && event.member.equals(member) && event.to === status)
      seen.add(record.node.hex)
  }
  return seen
}

describe('gossip dissemination', () => {
  for (const { size, dropRate, lockstep } of [
    { size: 100, dropRate: 0, lockstep: true },
    { size: 100, dropRate: 0.01, lockstep: false },
    { size: 1_000, dropRate: 0.01, lockstep: true },
  ]) {
    const timing = lockstep ? 'lockstep rounds' : 'staggered rounds'
    it(`a leave, then a join, reach all ${size} members in O(log n) ${timing} (loss ${dropRate * 100}%)`, () => {
      const leaveRounds: number[] = []
      const joinRounds: number[] = []
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
        const sawLeave = watch(cluster, leaver, 'left')
        cluster.dispatch(leaver, cluster.core(leaver).leave())
        leaveRounds.push(roundsUntil(cluster, () => sawLeave.size === size - 1, 10_000))
        // Heartbeats go to monitored peers plus one probe: about 2·(9+1) messages per node per round.
        const perNodePerRound = cluster.messagesDelivered / size / (cluster.now / INTERVAL_MS)
        expect(perNodePerRound).toBeLessThan(25)

        const newcomer = testNodeIds(1, 999_999 + seed)[0]!
        const admitter = cluster.ids[(seed + 1) % size]!
        const sawJoin = watch(cluster, newcomer, 'alive')
        cluster.dispatch(admitter, cluster.core(admitter).addMember(newcomer, cluster.now))
        sawJoin.add(admitter.hex)
        // Everyone but the node that left and the admitter (which reported it already) must learn it.
        joinRounds.push(roundsUntil(cluster, () => sawJoin.size === size - 1, 10_000))
        const upNumbers = new Set(
          cluster.ids
            .filter((id) => !id.equals(leaver))
            .map((id) => cluster.core(id).member(newcomer)?.upNumber),
        )
        expect([...upNumbers], 'every view gives the newcomer the same age').toEqual([size])
      }
      const bound = 2 * Math.ceil(Math.log2(size))
      for (const rounds of [...leaveRounds, ...joinRounds]) expect(rounds).toBeLessThanOrEqual(bound)
      console.info(
        `[failure-detector] gossip, ${size} members (loss ${dropRate * 100}%, ${timing}): leave reached all in ${leaveRounds.join(', ')} rounds, join in ${joinRounds.join(', ')} (log2 n = ${Math.log2(size).toFixed(1)})`,
      )
    })
  }
})
