import { BytesInParts, Codec, ConsensusError, type Logger, type Snapshot } from '@socketcloud/core'
import { describe, expect, it } from 'vitest'
import { ReplicatedState } from '../src/core/replicated-state'
import { DEFAULT_RUNTIME_INIT } from '../src/index'
import { KvMachine, decodeJson, encodeJson, type KvCommand } from './kv-machine'
import { SimCluster, type SimNode } from './sim-cluster'

// Goal: the runtime's client-facing promises — commit through any node, at-most-once application
// under a session, typed failures (SESSION_EXPIRED, NO_LEADER, STOPPED), linearizable reads through
// the log when the engine has no read index, and restart from the node's own snapshot — hold on the
// simulator with the real Raft engine. Method: small scripted scenarios, each waiting on conditions.
async function startedCluster(options: ConstructorParameters<typeof SimCluster>[0] = { seed: 7, size: 3 }) {
  const cluster = new SimCluster(options)
  await cluster.startAll()
  expect(await cluster.sim.runUntilAsync(() => cluster.leader() !== null, { timeMsMax: 5_000 })).toBe(true)
  const leader = cluster.leader()!
  const followers = cluster.nodes.filter((node) => node !== leader)
  return { cluster, sim: cluster.sim, leader, followers }
}

describe('ConsensusRuntime on the simulator', () => {
  it('commits through a follower and reads it back linearizably from every node', async () => {
    const { cluster, sim, followers } = await startedCluster()
    await sim.await(cluster.put(followers[0]!, 'x', 'one'))
    for (const node of cluster.nodes) expect(await sim.await(cluster.get(node, 'x'))).toBe('one')
    const appliedBy = cluster.nodes.map((node) => node.machine!.applied)
    expect(appliedBy).toEqual([1, 1, 1])
  })

  it('applies a command retried under the same session and sequence number once', async () => {
    const { cluster, sim, leader, followers } = await startedCluster()
    const session = await sim.await(followers[0]!.runtime!.openSession())
    const command = encodeJson({ op: 'put', key: 'k', value: 'once' })
    const first = await sim.await(
      followers[0]!.runtime!.submit(command, { session: { id: session, sequence: 1 } }),
    )
    const retry = await sim.await(leader.runtime!.submit(command, { session: { id: session, sequence: 1 } }))
    expect(retry).toEqual(first)
    await sim.runUntilAsync(() =>
      cluster.nodes.every((node) => node.runtime!.appliedIndex === leader.runtime!.appliedIndex),
    )
    expect(cluster.nodes.map((node) => node.machine!.applied)).toEqual([1, 1, 1])
  })

  it('fails a command of an unknown session with SESSION_EXPIRED and applies nothing', async () => {
    const { cluster, sim, followers } = await startedCluster()
    const command = encodeJson({ op: 'put', key: 'k', value: 'v' })
    await expect(
      sim.await(followers[0]!.runtime!.submit(command, { session: { id: '424242', sequence: 1 } })),
    ).rejects.toMatchObject({ code: 'SESSION_EXPIRED' })
    expect(cluster.nodes.map((node) => node.machine!.applied)).toEqual([0, 0, 0])
  })

  it('replaces an idle session before it can expire, so a paused client is not refused', async () => {
    const { cluster, sim, followers } = await startedCluster({
      seed: 13,
      size: 3,
      runtime: { requestTimeoutMs: 500, sessionExpiryMs: 2_000 },
    })
    const client = followers[0]!
    const other = followers[1]!
    await sim.await(cluster.put(client, 'a', '1'))
    // Another node's client keeps the log clock moving while this one is idle past the expiry.
    for (let round = 0; round < 6; round++) {
      await sim.await(cluster.put(other, 'b', String(round)))
      await sim.runForAsync(500)
    }
    await sim.await(cluster.put(client, 'a', '2'))
    expect(await sim.await(cluster.get(client, 'a'))).toBe('2')
  })

  it('fails with NO_LEADER when no leader appears within the timeout', async () => {
    const cluster = new SimCluster({ seed: 3, size: 3, runtime: { requestTimeoutMs: 500 } })
    await cluster.startAll()
    for (const node of cluster.nodes) cluster.network.isolate(node.id)
    const lonely = cluster.nodes[0]!
    const outcome = sim(cluster).await(
      lonely.runtime!.submit(encodeJson({ op: 'put', key: 'k', value: 'v' })),
    )
    await expect(outcome).rejects.toBeInstanceOf(ConsensusError)
    await expect(outcome).rejects.toMatchObject({ code: 'NO_LEADER' })
  })

  it('fails every open request with STOPPED when the runtime stops', async () => {
    const { cluster, sim, followers } = await startedCluster()
    cluster.network.isolate(followers[0]!.id)
    const runtime = followers[0]!.runtime!
    const pending = runtime.submit(encodeJson({ op: 'put', key: 'k', value: 'v' }))
    const read = runtime.read(encodeJson({ op: 'get', key: 'k' }))
    await sim.runForAsync(50)
    await sim.await(runtime.stop())
    await expect(pending).rejects.toMatchObject({ code: 'STOPPED' })
    await expect(read).rejects.toMatchObject({ code: 'STOPPED' })
    await expect(runtime.submit(new Uint8Array(1))).rejects.toMatchObject({ code: 'STOPPED' })
  })

  it('stores a commit index that moved alone with the next write or tick, not with a write of its own', async () => {
    const { cluster, sim, leader } = await startedCluster()
    const writesBefore = leader.disk.stats.writes
    const puts = 20
    for (let i = 0; i < puts; i++) await sim.await(cluster.put(leader, `k${i}`, 'v'))
    // Each put is one write on the leader (its entry); that put's commit index rides with the next
    // one's, and ticks only write one that is still waiting when the log goes quiet.
    const ticksMax = Math.ceil(sim.now / 10)
    expect(leader.disk.stats.writes - writesBefore).toBeLessThan(puts + Math.min(puts, ticksMax))
    expect(leader.disk.stats.writes - writesBefore).toBeLessThan(2 * puts)
    await sim.runForAsync(100)
    for (const node of cluster.nodes) {
      expect(node.disk.logFile('log').visible.hardState?.commit).toBe(leader.runtime!.appliedIndex)
    }
    // A stop writes it too: nothing is lost by stopping between a commit and the next tick.
    await sim.await(cluster.put(leader, 'last', 'v'))
    const applied = leader.runtime!.appliedIndex
    await sim.await(leader.runtime!.stop())
    expect(leader.disk.logFile('log').visible.hardState?.commit).toBe(applied)
  })

  it('reports a write that fails while stopping instead of dropping it', async () => {
    const errors: string[] = []
    const record = (bindings: unknown, message?: string): void => {
      errors.push(typeof bindings === 'string' ? bindings : `${message}: ${JSON.stringify(bindings)}`)
    }
    const logger: Logger = {
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: record,
      child: () => logger,
    }
    let failWrites = false
    const { cluster, sim, leader } = await startedCluster({
      seed: 7,
      size: 3,
      logger,
      wrapLogStore: (store) => ({
        load: () => store.load(),
        write: (update, options) =>
          failWrites ? Promise.reject(new Error('disk gone')) : store.write(update, options),
        compact: (index, term) => store.compact(index, term),
        close: () => store.close(),
      }),
    })
    await sim.await(cluster.put(leader, 'k', 'v'))
    // The put's commit index is waiting for the next write; stopping writes it, and that write fails.
    failWrites = true
    await sim.await(leader.runtime!.stop())
    expect(
      errors.some((line) => line.includes('failed after the runtime stopped') && line.includes('disk gone')),
    ).toBe(true)
  })

  it('serves linearizable reads through the log when the engine has no read index', async () => {
    const { cluster, sim, leader, followers } = await startedCluster({
      seed: 5,
      size: 3,
      adaptEngine: (engine) => {
        engine.readIndex = () => ({ ok: false, reason: 'unsupported', leader: null })
      },
    })
    await sim.await(cluster.put(followers[1]!, 'r', 'through-the-log'))
    expect(await sim.await(cluster.get(followers[0]!, 'r'))).toBe('through-the-log')
    expect(await sim.await(cluster.get(leader, 'r'))).toBe('through-the-log')
    expect(leader.metrics.value('socketcloud_consensus_proposals_total', { operation: 'read' })).toBe(2)
  })

  it("sends the leader's appends before its own fsync; a leader crash in that window loses nothing", async () => {
    // An fsync (10 ms) slower than the network (1–3 ms), as on a disk without a write cache.
    const { cluster, sim, leader, followers } = await startedCluster({
      seed: 17,
      size: 3,
      diskSyncLatencyMs: 10,
    })
    await sim.await(cluster.put(leader, 'warm', 'up'))
    const index = leader.runtime!.engine.inspect().lastIndex + 1
    const syncsBefore = leader.disk.stats.syncs
    const pending = leader.runtime!.submit(encodeJson({ op: 'put', key: 'k', value: 'v' }))
    const followersHaveIt = () => followers.every((node) => node.runtime!.engine.inspect().lastIndex >= index)
    await sim.runUntilAsync(() => followersHaveIt() || leader.disk.stats.syncs > syncsBefore)
    // Both followers hold the entry while the leader's own write is not yet durable (thesis §10.2.1).
    expect(followersHaveIt()).toBe(true)
    expect(leader.disk.stats.syncs).toBe(syncsBefore)
    // The leader dies before its fsync: its copy is lost, but a majority holds the entry, so the
    // next leader commits it.
    cluster.crash(leader)
    await expect(pending).rejects.toMatchObject({ code: 'STOPPED' })
    expect(
      await sim.runUntilAsync(() => followers.every((node) => node.machine!.get('k') === 'v'), {
        timeMsMax: 10_000,
      }),
    ).toBe(true)
    await sim.await(cluster.restart(leader))
    await sim.runUntilAsync(() => leader.machine?.get('k') === 'v', { timeMsMax: 10_000 })
    expect(leader.machine!.get('k')).toBe('v')
  })

  it('keeps committing while a snapshot is being saved, then compacts the log behind it', async () => {
    // Every snapshot save waits until the test releases it, as a slow disk would make it.
    const held: Array<() => void> = []
    const { cluster, sim, leader } = await startedCluster({
      seed: 13,
      size: 3,
      runtime: { snapshotIntervalEntries: 10 },
      wrapSnapshotStore: (store) => ({
        save: async (snapshot) => {
          await new Promise<void>((resolve) => held.push(resolve))
          await store.save(snapshot)
        },
        load: () => store.load(),
        close: () => store.close(),
      }),
    })
    for (let index = 0; index < 12; index++) await sim.await(cluster.put(leader, `a${index}`, 'x'))
    expect(held.length).toBeGreaterThan(0)
    // The saves are stalled, yet writes commit on: the loop does not wait for the snapshot.
    for (let index = 0; index < 30; index++) await sim.await(cluster.put(leader, `b${index}`, 'y'))
    expect(leader.runtime!.engine.inspect().snapshotIndex).toBe(0)
    for (const release of held.splice(0)) release()
    expect(
      await sim.runUntilAsync(() => leader.runtime!.engine.inspect().snapshotIndex >= 10, {
        timeMsMax: 1_000,
      }),
    ).toBe(true)
    expect(leader.machine!.get('b29')).toBe('y')
  })

  it('encodes a snapshot in steps while commands keep applying, and it holds the state at its index', async () => {
    const saved: Snapshot[] = []
    const { cluster, sim, leader } = await startedCluster({
      seed: 21,
      size: 3,
      runtime: { snapshotIntervalEntries: 40 },
      // One row per step: a 30-key state takes 30 steps, as a large state would take thousands.
      captureRowsPerStep: 1,
      wrapSnapshotStore: (store, node) => ({
        save: async (snapshot) => {
          if (node === cluster.leader()) saved.push(snapshot)
          await store.save(snapshot)
        },
        load: () => store.load(),
        close: () => store.close(),
      }),
    })
    const events: Array<{ index: number; encodeSteps: number; appliedAtSave: number }> = []
    leader.runtime!.events.on('snapshot', ({ index, encodeSteps }) =>
      events.push({ index, encodeSteps, appliedAtSave: leader.runtime!.appliedIndex }),
    )
    // Two writers, so commands commit while the encode is spread over virtual time.
    const writer = async (name: string): Promise<void> => {
      for (let i = 0; i < 40; i++) await cluster.put(leader, `${name}${i % 15}`, `${name}-${i}`)
    }
    await sim.await(Promise.all([writer('a'), writer('b')]))
    expect(events.length).toBeGreaterThan(0)
    const first = events[0]!
    expect(first.encodeSteps).toBeGreaterThan(10)
    // Commands applied between the capture's steps: the loop did not wait for the encode.
    const steps = leader.machine!.appliedAtCaptureSteps
    expect(steps[steps.length - 1]!).toBeGreaterThan(steps[0]!)
    expect(first.appliedAtSave).toBeGreaterThan(first.index)
    expect(leader.machine!.captures.taken).toBeGreaterThan(0)

    // The snapshot holds exactly the commands applied up to its index, none after.
    const snapshot = saved.find((candidate) => candidate.meta.index === first.index)!
    // Handed to the store as the pieces it was encoded in, never joined into one buffer on the way.
    expect(snapshot.data).toBeInstanceOf(BytesInParts)
    const restored = new KvMachine()
    new ReplicatedState(restored, {
      codec: new Codec({ envelopeBytesMax: DEFAULT_RUNTIME_INIT.snapshotBytesMax }),
      ...DEFAULT_RUNTIME_INIT,
    }).restore(snapshot.meta.index, snapshot.data)
    const expected = new Map<string, string>()
    for (const [index, text] of [...cluster.appliedCommands].sort(([a], [b]) => a - b)) {
      if (index > snapshot.meta.index) break
      const command = decodeJson<KvCommand>(new TextEncoder().encode(text))
      expected.set(command.key, command.value)
    }
    const keys = [...Array.from({ length: 15 }, (_, i) => [`a${i}`, `b${i}`])].flat()
    for (const key of keys) expect(restored.get(key)).toBe(expected.get(key) ?? null)
    expect(keys.some((key) => leader.machine!.get(key) !== restored.get(key))).toBe(true)
  })

  it("spreads the replicas' snapshots evenly over the stagger by their place among the members", async () => {
    const firstSnapshots = async (snapshotStagger: number): Promise<number[]> => {
      const { cluster, sim, leader } = await startedCluster({
        seed: 29,
        size: 3,
        runtime: { snapshotIntervalEntries: 40, snapshotStagger },
      })
      const first = new Map<string, number>()
      for (const node of cluster.nodes) {
        node.runtime!.events.on('snapshot', ({ index }) => {
          if (!first.has(node.name)) first.set(node.name, index)
        })
      }
      for (let i = 0; i < 70; i++) await sim.await(cluster.put(leader, `k${i}`, 'v'))
      await sim.runUntilAsync(() => first.size === 3, { timeMsMax: 5_000 })
      return [...first.values()].sort((a, b) => a - b)
    }
    const together = await firstSnapshots(0)
    const staggered = await firstSnapshots(0.5)
    expect(together).toHaveLength(3)
    expect(staggered).toHaveLength(3)
    // Without stagger every replica snapshots as soon as it has applied 40 entries (give or take the
    // batch it applied them in); with it, the three wait 40 plus 0, 6 and 13 (a third of 20 apart).
    expect(together[2]! - together[0]!).toBeLessThanOrEqual(2)
    expect(staggered[0]!).toBeGreaterThanOrEqual(40)
    expect(staggered[0]!).toBeLessThanOrEqual(42)
    expect(staggered[1]! - staggered[0]!).toBeGreaterThanOrEqual(4)
    expect(staggered[2]! - staggered[1]!).toBeGreaterThanOrEqual(4)
    expect(staggered[2]!).toBeLessThanOrEqual(56)
  })

  it('gives up a snapshot being encoded when one from the leader replaces the state', async () => {
    let victim: SimNode | null = null
    const { cluster, sim, leader, followers } = await startedCluster({
      seed: 23,
      size: 3,
      runtime: { snapshotIntervalEntries: 30 },
      captureRowsPerStep: 1,
      // The victim's encode never finishes on its own, as a huge state's would take long.
      captureHeld: (node) => node === victim,
    })
    victim = followers[0]!
    const victimMachine = victim.machine!
    for (let i = 0; i < 35; i++) await sim.await(cluster.put(leader, `k${i % 20}`, `v${i}`))
    await sim.runUntilAsync(() => victimMachine.captures.taken === 1, { timeMsMax: 5_000 })
    expect(victimMachine.captures).toEqual({ taken: 1, released: 0 })
    // Cut off, the victim falls behind the leader's compacted log and must take the leader's snapshot.
    cluster.network.isolate(victim.id)
    for (let i = 35; i < 110; i++) await sim.await(cluster.put(leader, `k${i % 20}`, `v${i}`))
    expect(leader.runtime!.engine.inspect().snapshotIndex).toBeGreaterThan(victim.runtime!.appliedIndex)
    cluster.network.heal()
    expect(
      await sim.runUntilAsync(() => victim!.runtime!.appliedIndex === leader.runtime!.appliedIndex, {
        timeMsMax: 10_000,
      }),
    ).toBe(true)
    expect(victim.restores).toContain('leader')
    // The held capture was released by the restore, not left open, and nothing of it was saved.
    expect(victimMachine.captures.released).toBe(1)
    for (let i = 0; i < 20; i++) expect(victimMachine.get(`k${i}`)).toBe(leader.machine!.get(`k${i}`))
  })

  it('restarts a crashed replica from its own snapshot and log', async () => {
    const { cluster, sim, leader, followers } = await startedCluster({
      seed: 11,
      size: 3,
      runtime: { snapshotIntervalEntries: 20 },
    })
    for (let index = 0; index < 30; index++) await sim.await(cluster.put(leader, `k${index}`, `v${index}`))
    const victim = followers[0]!
    await sim.runUntilAsync(() => victim.runtime!.appliedIndex === leader.runtime!.appliedIndex)
    cluster.crash(victim)
    await sim.await(cluster.restart(victim))
    expect(victim.restores).toContain('disk')
    await sim.await(cluster.put(leader, 'after', 'crash'))
    await sim.runUntilAsync(() => victim.runtime!.appliedIndex === leader.runtime!.appliedIndex)
    expect(victim.machine!.get('k29')).toBe('v29')
    expect(victim.machine!.get('after')).toBe('crash')
  })

  it('refuses to start, with a typed error, when the snapshot its compacted log needs does not load', async () => {
    let victim: SimNode | null = null
    let snapshotLost = false
    const { cluster, sim, followers } = await startedCluster({
      seed: 43,
      size: 3,
      runtime: { snapshotIntervalEntries: 10, snapshotStagger: 0 },
      // What a store returns when every snapshot file is damaged: nothing.
      wrapSnapshotStore: (store, node) => ({
        save: (snapshot) => store.save(snapshot),
        load: () => (snapshotLost && node === victim ? Promise.resolve(null) : store.load()),
        close: () => store.close(),
      }),
    })
    victim = followers[0]!
    let compacted = false
    victim.runtime!.events.on('snapshot', () => (compacted = true))
    for (let index = 0; index < 20; index++) await sim.await(cluster.put(followers[1]!, `k${index}`, 'v'))
    expect(await sim.runUntilAsync(() => compacted, { timeMsMax: 2_000 })).toBe(true)
    cluster.crash(victim)
    snapshotLost = true
    await expect(sim.await(cluster.restart(victim))).rejects.toMatchObject({
      name: 'StorageError',
      code: 'CORRUPT',
      context: { snapshotIndex: 0 },
    })
    expect(victim.restores).toEqual([])
  })

  it('leaves the log as it was when the snapshot it would compact to cannot be restored', async () => {
    let victim: SimNode | null = null
    let crashAfterSave = false
    let garbled = false
    const { cluster, sim, followers } = await startedCluster({
      seed: 47,
      size: 3,
      runtime: { snapshotIntervalEntries: 10, snapshotStagger: 0 },
      wrapSnapshotStore: (store, node) => ({
        // A crash between the snapshot's save and the log's compaction behind it...
        save: async (snapshot) => {
          await store.save(snapshot)
          if (crashAfterSave && node === victim && node.alive) cluster.crash(node)
        },
        // ...and then a snapshot that does not restore (here: bytes that do not decode).
        load: async () => {
          const loaded = await store.load()
          return garbled && node === victim && loaded !== null
            ? { meta: loaded.meta, data: new Uint8Array([1, 2, 3]) }
            : loaded
        },
        close: () => store.close(),
      }),
    })
    victim = followers[0]!
    crashAfterSave = true
    for (let index = 0; index < 20 && victim.alive; index++)
      await sim.await(cluster.put(followers[1]!, `k${index}`, 'v'))
    expect(await sim.runUntilAsync(() => !victim.alive, { timeMsMax: 2_000 })).toBe(true)
    const before = await sim.await(victim.disk.logStore().load())
    garbled = true
    await expect(sim.await(cluster.restart(victim))).rejects.toMatchObject({ name: 'DecodeError' })
    const after = await sim.await(victim.disk.logStore().load())
    expect(after.compactedIndex).toBe(before.compactedIndex)
    expect(after.entries.map((entry) => entry.index)).toEqual(before.entries.map((entry) => entry.index))
  })

  it('restarts from a snapshot newer than the end of its own log (a leader whose disk lagged), and catches up', async () => {
    // A leader applies entries the followers made durable before its own write of them finishes. If
    // it snapshots there and crashes before that write, its disk holds a snapshot past the end of its
    // log; the restart must start the log after the snapshot. Found by consensus sweep seed 200324,
    // where the restarted replica stopped on "entries starting at 71 do not attach to the log".
    let slow: SimNode | null = null
    const { cluster, sim, leader } = await startedCluster({
      seed: 41,
      size: 3,
      runtime: { snapshotIntervalEntries: 12, snapshotStagger: 0 },
      // The slow node's writes of entries are issued 40 ms late (in order); its other writes are not.
      wrapLogStore: (store, node) => {
        let chain: Promise<unknown> = Promise.resolve()
        const ordered = <T>(run: () => Promise<T>): Promise<T> => {
          const next = chain.then(run)
          chain = next.catch(() => undefined)
          return next
        }
        return {
          load: () => store.load(),
          write: (update, options) =>
            ordered(async () => {
              if (node === slow && (update.entries?.length ?? 0) > 0) await cluster.sleep(40)
              return store.write(update, options)
            }),
          compact: (index, term) => ordered(() => store.compact(index, term)),
          close: () => store.close(),
        }
      },
      // The crash comes as soon as the slow node's snapshot is durable, before its log catches up.
      wrapSnapshotStore: (store, node) => ({
        save: async (snapshot) => {
          await store.save(snapshot)
          if (node === slow && node.alive) cluster.crash(node)
        },
        load: () => store.load(),
        close: () => store.close(),
      }),
    })
    for (let index = 0; index < 5; index++) await sim.await(cluster.put(leader, `early${index}`, 'x'))
    slow = leader
    const writes = Array.from({ length: 20 }, (_, index) =>
      cluster.put(leader, `k${index}`, `v${index}`).catch(() => 'not acknowledged'),
    )
    expect(await sim.runUntilAsync(() => !leader.alive, { timeMsMax: 5_000 })).toBe(true)
    const outcomes = await sim.await(Promise.all(writes))
    const acknowledged = outcomes.flatMap((outcome, index) => (outcome === undefined ? [index] : []))
    expect(acknowledged.length).toBeGreaterThan(0)
    const restartedDisk = leader.disk
    const [snapshot, log] = await sim.await(
      Promise.all([restartedDisk.snapshotStore().load(), restartedDisk.logStore().load()]),
    )
    // The situation under test: the durable snapshot is past the durable end of the log.
    expect(snapshot).not.toBeNull()
    expect(snapshot!.meta.index).toBeGreaterThan(log.compactedIndex + log.entries.length)
    await sim.await(cluster.restart(leader))
    const other = cluster.nodes.find((node) => node !== leader && node.alive)!
    await sim.await(cluster.put(other, 'after', 'restart'))
    expect(
      await sim.runUntilAsync(
        () =>
          cluster.runtimeFailures.length > 0 ||
          (leader.runtime!.running && leader.machine!.get('after') === 'restart'),
        { timeMsMax: 5_000 },
      ),
    ).toBe(true)
    expect(cluster.runtimeFailures).toEqual([])
    for (const index of acknowledged) expect(leader.machine!.get(`k${index}`)).toBe(`v${index}`)
    for (let index = 0; index < 20; index++)
      expect(leader.machine!.get(`k${index}`)).toBe(other.machine!.get(`k${index}`))
  })
})

function sim(cluster: SimCluster) {
  return cluster.sim
}
