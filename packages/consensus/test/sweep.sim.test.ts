import { LimitExceededError } from '@socketcloud/core'
import type { ConsensusRuntimeInit } from '../src/index'
import { HistoryRecorder, checkLinearizable, formatHistory, runSeeds, seedsToRun } from '@socketcloud/sim'
import { describe, expect, it } from 'vitest'
import { SimCluster, isDefiniteFailure, type SimNode } from './sim-cluster'

// Goal: under partitions, crashes that lose unsynced writes, message loss, duplication and
// reordering, leader transfers and membership changes, every client history stays linearizable, no
// acknowledged write goes missing, and every replica ends in the same state. Method: per seed, a 3-
// or 5-node cluster runs a random client load for a few virtual seconds while a chaos schedule drawn
// from the seed injects faults; then the world heals and the cluster must converge. Election safety
// and state machine safety are checked after every simulation event (see SimCluster).
const LOAD_MS = 2_500
const KEYS = ['a', 'b', 'c']

interface SweepTotals {
  seeds: number
  operations: number
  acknowledgedWrites: number
  unknownWrites: number
  crashes: number
  partitions: number
  transfers: number
  membershipChanges: number
  invariantChecks: number
  events: number
}

const totals: SweepTotals = {
  seeds: 0,
  operations: 0,
  acknowledgedWrites: 0,
  unknownWrites: 0,
  crashes: 0,
  partitions: 0,
  transfers: 0,
  membershipChanges: 0,
  invariantChecks: 0,
  events: 0,
}

async function runScenario(seed: number, size: number, runtime: ConsensusRuntimeInit = {}): Promise<void> {
  // The simulation only yields to microtasks; let the test runner's own messages through between seeds.
  await new Promise((resolve) => setImmediate(resolve))
  // Odd seeds give the machine a stepped snapshot capture (two rows a step), so snapshots are encoded
  // between applies, crashes and restores; even seeds encode them whole.
  const cluster = new SimCluster({
    seed,
    size,
    // A snapshot every 6 to 64 entries, from the seed: most runs snapshot many times, so snapshots
    // meet crashes, restarts, leader changes and InstallSnapshot at every point of their way.
    runtime: { snapshotIntervalEntries: 6 + (seed % 59), ...runtime },
    ...(seed % 2 === 1 ? { captureRowsPerStep: 2 } : {}),
  })
  const { sim, network } = cluster
  const random = sim.random.fork()
  await cluster.startAll()
  network.setFaults({
    latencyMs: 1 + random.nextInt(3),
    jitterMs: random.nextInt(4),
    dropRate: random.between(0, 0.05),
    duplicateRate: random.between(0, 0.05),
    reorderRate: random.between(0, 0.1),
  })
  const recorder = new HistoryRecorder(sim.clock)
  const acknowledged: string[] = []
  const loadEndMs = sim.now + LOAD_MS
  let failure: Error | null = null
  const fail = (error: unknown): void => {
    failure ??= error instanceof Error ? error : new Error(String(error))
  }

  const client = async (clientIndex: number): Promise<void> => {
    const draws = sim.random.fork()
    let sequence = 0
    while (sim.now < loadEndMs) {
      const candidates = cluster.aliveNodes().filter((node) => node.runtime?.running)
      if (candidates.length === 0) {
        await cluster.sleep(20)
        continue
      }
      const node = draws.pick(candidates)
      const key = draws.pick(KEYS)
      const client = `c${clientIndex}`
      if (draws.chance(0.5)) {
        const value = `${client}-${sequence++}`
        const id = recorder.invoke(client, { kind: 'put', key, value })
        try {
          await cluster.put(node, key, value)
          recorder.complete(id)
          acknowledged.push(JSON.stringify({ op: 'put', key, value }))
        } catch (error) {
          if (isDefiniteFailure(error) || error instanceof LimitExceededError) recorder.fail(id)
          else {
            recorder.abandon(id)
            totals.unknownWrites++
          }
          await cluster.sleep(10)
        }
      } else {
        const id = recorder.invoke(client, { kind: 'get', key })
        try {
          recorder.complete(id, await cluster.get(node, key))
        } catch {
          // A failed read changed nothing; try again shortly.
          recorder.fail(id)
          await cluster.sleep(10)
        }
      }
    }
  }

  // Membership cycle: remove a voter (sometimes the leader itself), add it back as a learner, promote
  // it once caught up. Each step is decided from the leader's current configuration, so a change
  // lost with a deposed leader is simply proposed again.
  let membershipTarget: SimNode | null = null
  let membershipRemoved = false
  const membershipStep = (): void => {
    const leader = cluster.leader()
    if (!leader) return
    if (membershipTarget === null) {
      const others = cluster.nodes.filter((node) => node !== leader)
      membershipTarget = random.chance(0.2) ? leader : random.pick(others)
      membershipRemoved = false
    }
    const target = membershipTarget.id.hex
    const status = leader.runtime!.engine.status()
    const stage = status.learners.includes(target)
      ? 'promote-learner'
      : !status.voters.includes(target)
        ? 'add-learner'
        : membershipRemoved
          ? null
          : 'remove'
    if (stage === null) {
      membershipTarget = null
      return
    }
    leader
      .runtime!.control((engine) => engine.proposeMembershipChange({ type: stage, id: target }))
      .then((result) => {
        if (!result.ok) return
        cluster.stats.membershipChanges++
        if (stage === 'remove') membershipRemoved = true
      })
      .catch(() => undefined)
  }

  const chaos = (): void => {
    if (sim.now >= loadEndMs) return
    const alive = cluster.aliveNodes()
    const action = random.nextInt(7)
    if (action === 0 && alive.length > Math.floor(size / 2) + 1) {
      const victim = random.pick(alive)
      cluster.crash(victim)
      sim.schedule(random.between(50, 600), 'restart', () => cluster.restart(victim).catch(fail))
    } else if (action === 1) {
      const shuffled = random.shuffle(cluster.nodes)
      const cut = 1 + random.nextInt(size - 1)
      network.partition([
        shuffled.slice(0, cut).map((node) => node.id),
        shuffled.slice(cut).map((node) => node.id),
      ])
      cluster.stats.partitions++
      sim.schedule(random.between(100, 700), 'heal', () => network.heal())
    } else if (action === 2) {
      const leader = cluster.leader()
      if (leader) {
        network.isolate(leader.id)
        cluster.stats.partitions++
        sim.schedule(random.between(100, 500), 'heal', () => network.heal())
      }
    } else if (action === 3) {
      const leader = cluster.leader()
      if (leader) {
        const target = random.pick(cluster.nodes.filter((node) => node !== leader))
        cluster.stats.transfers++
        leader.runtime!.control((engine) => engine.transferLeadership(target.id.hex)).catch(() => undefined)
      }
    } else if (action === 4) {
      membershipStep()
    } else if (action === 5) {
      network.setFaults({ dropRate: random.between(0, 0.2), duplicateRate: random.between(0, 0.1) })
    }
    sim.schedule(random.between(80, 300), 'chaos', chaos)
  }

  const clients = Promise.all(Array.from({ length: size }, (_, index) => client(index).catch(fail)))
  sim.schedule(random.between(50, 200), 'chaos', chaos)
  await sim.await(clients, { timeMsMax: LOAD_MS + 20_000 })

  // Heal the world and finish any membership cycle, then every replica must converge.
  network.heal()
  network.setFaults({ dropRate: 0, duplicateRate: 0, reorderRate: 0 })
  await sim.await(Promise.all(cluster.nodes.map((node) => cluster.restart(node))), { timeMsMax: 10_000 })
  while (membershipTarget !== null) {
    membershipStep()
    await sim.runForAsync(100)
    if (sim.now > loadEndMs + 60_000) throw new Error('membership cycle did not complete after healing')
  }
  const converged = await sim.runUntilAsync(
    () => {
      const leader = cluster.leader()
      if (!leader) return false
      const status = leader.runtime!.engine.status()
      return (
        status.voters.length === size &&
        cluster.nodes.every((node) => node.runtime!.appliedIndex === status.commitIndex)
      )
    },
    { timeMsMax: 30_000 },
  )
  if (failure) throw failure
  const [stopped] = cluster.runtimeFailures
  if (stopped !== undefined) {
    const context = (stopped.error as { context?: unknown }).context
    throw new Error(
      `runtime of ${stopped.node} failed at ${stopped.atMs.toFixed(1)} ms: ${stopped.error.message}${context === undefined ? '' : ` ${JSON.stringify(context)}`}`,
      { cause: stopped.error },
    )
  }
  if (!converged) {
    for (const node of cluster.nodes) {
      const status = node.runtime!.engine.status()
      console.error(
        `[consensus sweep] seed ${seed} ${node.name} running=${node.runtime!.running} role=${status.role} term=${status.term} leader=${status.leader?.slice(0, 6)} commit=${status.commitIndex} applied=${node.runtime!.appliedIndex} voters=${status.voters.length} learners=${status.learners.length} peers=${node
          .transport!.connectedPeers()
          .map((peer) => cluster.nodeById(peer.hex)?.name)
          .join(',')}`,
      )
      const inspect = node.runtime!.engine.inspect()
      if (inspect.role === 'leader') {
        console.error(
          `  progress ${JSON.stringify([...inspect.progress].map(([id, p]) => [cluster.nodeById(id)?.name, p]))} snapshotIndex=${inspect.snapshotIndex} transferee=${inspect.transferee}`,
        )
      } else console.error(`  lastIndex=${inspect.lastIndex} snapshotIndex=${inspect.snapshotIndex}`)
    }
  }
  expect(converged, 'the cluster converges after healing').toBe(true)

  const leader = cluster.leader()!
  for (const key of KEYS) {
    const id = recorder.invoke('final', { kind: 'get', key })
    recorder.complete(id, await sim.await(cluster.get(leader, key)))
  }
  const history = recorder.history()
  const verdict = checkLinearizable(history)
  if (verdict.outcome !== 'linearizable') {
    console.error(verdict.failure ? formatHistory(verdict.failure.operations) : JSON.stringify(verdict.keys))
  }
  expect(verdict.outcome, verdict.failure?.message ?? 'every key is linearizable').toBe('linearizable')
  totals.operations += history.length
  const applied = new Set(cluster.appliedCommands.values())
  const missing = acknowledged.filter((command) => !applied.has(command))
  expect(missing, 'no acknowledged write is missing').toEqual([])
  const snapshots = cluster.nodes.map((node) => Buffer.from(node.machine!.snapshot()).toString('hex'))
  expect(new Set(snapshots).size, 'every replica ends in the same state').toBe(1)

  totals.seeds++
  totals.acknowledgedWrites += acknowledged.length
  totals.crashes += cluster.stats.crashes
  totals.partitions += cluster.stats.partitions
  totals.transfers += cluster.stats.transfers
  totals.membershipChanges += cluster.stats.membershipChanges
  totals.invariantChecks += cluster.stats.invariantChecks
  totals.events += sim.eventsExecuted
  // Stopping writes a commit index still waiting for the next write, which settles in virtual time.
  for (const node of cluster.nodes) await sim.await(node.runtime!.stop())
}

/** A generous budget per seed (a seed normally takes well under a second; its events are capped). */
const timeoutFor = (count: number): number => seedsToRun({ count }).length * 3_000 + 30_000

describe('ConsensusRuntime simulation sweep', () => {
  it(
    '3-node clusters stay linearizable and lose no acknowledged write under faults',
    () => runSeeds('consensus runtime 3-node sweep', { count: 80 }, (seed) => runScenario(seed, 3)),
    timeoutFor(80),
  )

  it(
    '5-node clusters stay linearizable and lose no acknowledged write under faults',
    () =>
      runSeeds('consensus runtime 5-node sweep', { count: 40, firstSeed: 10_001 }, (seed) =>
        runScenario(seed, 5),
      ),
    timeoutFor(40),
  )

  it(
    '3-node clusters hold the same guarantees when engine inputs wait for each Ready',
    () =>
      runSeeds('consensus runtime deferred-inputs sweep', { count: 16, firstSeed: 20_001 }, (seed) =>
        runScenario(seed, 3, { deferInputsDuringReady: true }),
      ),
    timeoutFor(16),
  )

  it('reports the sweep summary', () => {
    console.log(`[consensus sweep] ${JSON.stringify(totals)}`)
    expect(totals.seeds).toBeGreaterThan(0)
  })
})
