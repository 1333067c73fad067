/**
 * Goal: the driver runs the membership core over a real Transport contract and Clock: a crashed node
 * is reported failed by every other node in under a second, a 3|2 split downs the minority and heals,
 * noise produces no false alarm, and bad input is refused and counted while every member keeps being
 * served. Method: FailureDetectorNodes on `@socketcloud/sim` (SimNetwork endpoints, virtual clock),
 * seeds from SIM_SEEDS; `SIM_SEED=<n>` replays a failure.
 */
import { Codec } from '@socketcloud/core'
import { runSeeds, simNodeId } from '@socketcloud/sim'
import { describe, expect, it } from 'vitest'
import { encodeMembershipMessage } from '../src/index'
import { percentile } from './support/cluster'
import { startSimCluster } from './support/sim-cluster'

const NOISY = { latencyMs: 5, jitterMs: 20, dropRate: 0.01 }

describe('FailureDetectorNode on the simulator', () => {
  it('every other node reports a crashed node failed in under a second', async () => {
    const detectionMs: number[] = []
    await runSeeds('driver crash detection', { count: 8 }, async (seed) => {
      const cluster = await startSimCluster({ seed, size: 5, faults: NOISY })
      const { sim, network, ids, nodes, metrics } = cluster
      const falseAlarms: string[] = []
      const failedAt = new Map<string, number>()
      const victim = ids[seed % ids.length]!
      let crashedAt = Number.POSITIVE_INFINITY
      nodes.forEach((node, index) =>
        node.events.on('level', (event) => {
          if (event.to !== 'failed') return
          if (sim.now >= crashedAt && event.peer.equals(victim)) failedAt.set(ids[index]!.hex, sim.now)
          else falseAlarms.push(`${ids[index]!.toShortString()} -> ${event.peer.toShortString()}`)
        }),
      )
      await sim.runForAsync(5_000)
      crashedAt = sim.now
      network.crash(victim)
      nodes[ids.indexOf(victim)]!.stop()
      const observers = ids.filter((id) => !id.equals(victim))
      await sim.runUntilAsync(() => failedAt.size === observers.length, { timeMsMax: 5_000 })
      expect(falseAlarms).toEqual([])
      expect(failedAt.size).toBe(observers.length)
      for (const observer of observers) {
        const elapsed = failedAt.get(observer.hex)! - crashedAt
        expect(elapsed).toBeLessThan(1_000)
        detectionMs.push(elapsed)
        const index = ids.indexOf(observer)
        // The metric the node app exports: time from the victim's last heartbeat to `failed`.
        const silence = metrics[index]!.observations('socketcloud_failure_detector_silence_before_failed_ms')
        expect(silence).toHaveLength(1)
        expect(silence[0]).toBeGreaterThanOrEqual(elapsed)
        expect(silence[0]).toBeLessThan(1_100)
      }
      for (const node of nodes) if (!node.membership.localId.equals(victim)) node.stop()
    })
    console.info(
      `[failure-detector] driver on @socketcloud/sim, crash detection: p50 ${percentile(detectionMs, 50).toFixed(0)} ms, p99 ${percentile(detectionMs, 99).toFixed(0)} ms over ${detectionMs.length} observations`,
    )
  })

  it('keep-majority over the simulator: a 3|2 split downs the two, healing brings them back', async () => {
    await runSeeds('driver split brain', { count: 2 }, async (seed) => {
      const { sim, network, ids, nodes, metrics } = await startSimCluster({
        seed,
        size: 5,
        faults: { latencyMs: 2, jitterMs: 3, dropRate: 0.005 },
        init: { splitBrain: { strategy: { kind: 'keep-majority' } } },
      })
      await sim.runForAsync(2_000)
      network.partition([ids.slice(0, 3), ids.slice(3)])
      await sim.runForAsync(8_000)
      expect(nodes.map((node) => node.membership.decision)).toEqual(['up', 'up', 'up', 'down', 'down'])
      expect(metrics[4]!.value('socketcloud_failure_detector_up')).toBe(0)
      network.heal()
      const merged = await sim.runUntilAsync(
        () =>
          nodes.every(
            (node) =>
              node.membership.decision === 'up' &&
              node.membership.members().every((member) => member.status === 'alive'),
          ),
        { timeMsMax: 10_000 },
      )
      expect(merged).toBe(true)
      expect(metrics[4]!.value('socketcloud_failure_detector_up')).toBe(1)
      for (const node of nodes) node.stop()
    })
  })

  it('a one-way broken link does not make a live member suspect: indirect probes reach it through others', async () => {
    const suspicions = async (indirectProbes: number): Promise<number> => {
      const { sim, network, ids, nodes } = await startSimCluster({
        seed: 5,
        size: 5,
        faults: { latencyMs: 2, jitterMs: 3 },
        init: { indirectProbes },
      })
      let count = 0
      for (const node of nodes) node.events.on('status', (event) => (count += event.to === 'suspect' ? 1 : 0))
      await sim.runForAsync(2_000)
      network.blockOneWay(ids[0]!, ids[2]!)
      await sim.runForAsync(20_000)
      const failedLevel = nodes[0]!.membership.level(ids[2]!)
      for (const node of nodes) node.stop()
      // Node 0 cannot hear node 2 directly (its pings are lost), so its own detector says failed...
      expect(failedLevel).toBe('failed')
      return count
    }
    // ...but with indirect probes nobody suspects anyone; without them the broken link flaps members.
    expect(await suspicions(3)).toBe(0)
    expect(await suspicions(0)).toBeGreaterThan(0)
  })

  it('ten minutes of 1% loss and 5–25 ms delays raise no false alarm', async () => {
    await runSeeds('driver false positives', { count: 1 }, async (seed) => {
      const { sim, nodes, metrics } = await startSimCluster({ seed, size: 5, faults: NOISY })
      await sim.runForAsync(10 * 60 * 1000)
      const failed = metrics.reduce(
        (sum, m) => sum + m.value('socketcloud_failure_detector_level_changes_total', { to: 'failed' }),
        0,
      )
      console.info(
        `[failure-detector] driver on @socketcloud/sim, 10 min noisy network: ${failed} false positives`,
      )
      expect(failed).toBe(0)
      expect(
        metrics[0]!.value('socketcloud_failure_detector_messages_total', { direction: 'in' }),
      ).toBeGreaterThan(40_000)
      for (const node of nodes) node.stop()
    })
  })

  it('refuses malformed, spoofed and unknown-sender messages, counts them, and keeps serving members', async () => {
    const { sim, network, ids, nodes, metrics } = await startSimCluster({ seed: 3, size: 3 })
    const intruderId = simNodeId('intruder')
    const intruder = network.endpoint(intruderId)
    await sim.await(intruder.dial('mem://fd-0'))
    const codec = new Codec()
    const target = ids[0]!
    const refusals: string[] = []
    nodes[0]!.events.on('refused', (event) => refusals.push(event.reason))
    intruder.send(target, new Uint8Array([0xa2, 0x68, 0x69])) // MessagePack, but a string, not an envelope
    intruder.send(
      target,
      codec.encode({ type: 'fd.ping', sender: intruderId, payload: { seq: -5, gossip: [] } }),
    )
    // A well-formed ping, but from a node that is not a member.
    intruder.send(target, encodeMembershipMessage(codec, intruderId, { type: 'ping', seq: 1, gossip: [] }))
    // A well-formed ping that claims to come from a member: the transport says otherwise.
    intruder.send(target, encodeMembershipMessage(codec, ids[1]!, { type: 'ping', seq: 1, gossip: [] }))
    // Another protocol's message on a shared transport is not ours to refuse.
    intruder.send(target, codec.encode({ type: 'raft.append', sender: intruderId, payload: {} }))
    let acksToIntruder = 0
    intruder.events.on('message', () => acksToIntruder++)
    await sim.runForAsync(2_000)
    expect(refusals.sort()).toEqual(['INVALID_FIELD', 'MALFORMED', 'SENDER_MISMATCH', 'UNKNOWN_SENDER'])
    const refused = (reason: string) =>
      metrics[0]!.value('socketcloud_failure_detector_refused_total', { reason })
    expect([
      refused('MALFORMED'),
      refused('INVALID_FIELD'),
      refused('UNKNOWN_SENDER'),
      refused('SENDER_MISMATCH'),
    ]).toEqual([1, 1, 1, 1])
    expect(acksToIntruder, 'nothing is answered to a non-member').toBe(0)
    expect(nodes[0]!.membership.member(intruderId)).toBeUndefined()
    for (const node of nodes) {
      expect(node.membership.members().map((member) => member.status)).toEqual(['alive', 'alive', 'alive'])
    }
    for (const node of nodes) node.stop()
  })
})
