/**
 * Goal: each Raft feature behaves as the paper and thesis say, observed through the public engine
 * API. Method: scripted scenarios — a fault-free cluster harness for end-to-end behaviour, and
 * engines stepped by hand where a precise message sequence matters (etcd's raft_test.go style).
 */
import { BytesInParts, ConfigError, SeededRandom, type LogEntry, type Ready } from '@socketcloud/core'
import { describe, expect, it } from 'vitest'
import { RaftEngine, type AppendRequest, type RaftMessage, type RaftOptions } from '../src/index'
import { Cluster } from './support/cluster'

function engine(id: string, voters: string[], options: Partial<RaftOptions> = {}, seed = 1): RaftEngine {
  return new RaftEngine({ id, voters, random: new SeededRandom(seed), options })
}

function drain(raft: RaftEngine): Ready<RaftMessage>[] {
  const out: Ready<RaftMessage>[] = []
  while (raft.hasReady()) {
    const ready = raft.ready()
    raft.advance(ready)
    out.push(ready)
  }
  return out
}

/** Everything a Ready sends, early (before its write) first. */
function sent(ready: Ready<RaftMessage>): { to: string; message: RaftMessage }[] {
  return [...(ready.messagesBeforePersist ?? []), ...ready.messages]
}

function messages(raft: RaftEngine): { to: string; message: RaftMessage }[] {
  return drain(raft).flatMap(sent)
}

function electedCluster(voters: number, options: Partial<RaftOptions> = {}, seed = 7): Cluster {
  const cluster = new Cluster({ seed, voters, spares: 2, raft: options })
  expect(cluster.runUntil(() => cluster.leader() !== undefined, 5000)).toBe(true)
  cluster.runFor(100)
  return cluster
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

describe('options', () => {
  it('validates limits and flags with a ConfigError naming the option', () => {
    expect(() => engine('a', ['a'], { heartbeatTicks: 10, electionTimeoutTicks: 10 })).toThrow(ConfigError)
    expect(() => engine('a', ['a'], { inflightMessagesMax: 0 })).toThrow(/inflightMessagesMax/)
    expect(() => engine('a', ['a'], { leaseReads: true, checkQuorum: false })).toThrow(/leaseReads/)
  })
})

describe('leader election', () => {
  it('a single voter elects itself and commits its noop', () => {
    const raft = engine('a', ['a'], { preVote: false })
    for (let tick = 0; tick < 20; tick++) raft.tick()
    const readies = drain(raft)
    expect(raft.status().role).toBe('leader')
    const committed = readies.flatMap((ready) => ready.committed)
    expect(committed.map((entry) => entry.kind)).toEqual(['noop'])
  })

  it('randomizes election timeouts within [T, 2T)', () => {
    const firings = new Set<number>()
    for (let seed = 1; seed <= 30; seed++) {
      const raft = engine('a', ['a', 'b', 'c'], { preVote: false, electionTimeoutTicks: 10 }, seed)
      let ticks = 0
      while (raft.status().role === 'follower') {
        raft.tick()
        ticks++
      }
      expect(ticks).toBeGreaterThanOrEqual(10)
      expect(ticks).toBeLessThan(20)
      firings.add(ticks)
    }
    expect(firings.size).toBeGreaterThan(3)
  })

  it('grants one vote per term and only to an up-to-date log', () => {
    const voter = engine('c', ['a', 'b', 'c'])
    expect(voter.step('a', { type: 'vote', term: 1, lastIndex: 0, lastTerm: 0, transfer: false }).ok).toBe(
      true,
    )
    const first = messages(voter)
    expect(first).toEqual([{ to: 'a', message: { type: 'vote-response', term: 1, granted: true } }])
    voter.step('b', { type: 'vote', term: 1, lastIndex: 5, lastTerm: 1, transfer: false })
    expect(messages(voter)[0]!.message).toMatchObject({ type: 'vote-response', granted: false })
    const readies = drain(voter)
    expect(readies).toHaveLength(0)
  })

  it('persists term and vote with mustSync before the vote goes out', () => {
    const voter = engine('c', ['a', 'b', 'c'])
    voter.step('a', { type: 'vote', term: 3, lastIndex: 0, lastTerm: 0, transfer: false })
    const ready = voter.ready()
    expect(ready.hardState).toMatchObject({ term: 3, vote: 'a' })
    expect(ready.mustSync).toBe(true)
    expect(ready.messages).toHaveLength(1)
  })
})

describe('PreVote and CheckQuorum', () => {
  it('an isolated follower with PreVote does not inflate its term and does not disrupt on return', () => {
    const cluster = electedCluster(3, { preVote: true, checkQuorum: true })
    const leader = cluster.leader()!
    const termBefore = leader.engine.status().term
    const follower = cluster.ids.slice(0, 3).find((id) => id !== leader.id)!
    cluster.isolate(follower)
    cluster.runFor(2000)
    expect(cluster.node(follower).engine.status().term).toBe(termBefore)
    cluster.heal()
    cluster.runFor(500)
    expect(cluster.leader()!.id).toBe(leader.id)
    expect(cluster.leader()!.engine.status().term).toBe(termBefore)
  })

  it('without PreVote the isolated follower does inflate its term (the disruption PreVote prevents)', () => {
    const cluster = electedCluster(3, { preVote: false, checkQuorum: false })
    const leader = cluster.leader()!
    const follower = cluster.ids.slice(0, 3).find((id) => id !== leader.id)!
    const termBefore = leader.engine.status().term
    cluster.isolate(follower)
    cluster.runFor(2000)
    expect(cluster.node(follower).engine.status().term).toBeGreaterThan(termBefore + 3)
  })

  it('a leader that cannot hear a majority steps down within an election timeout', () => {
    const cluster = electedCluster(3, { checkQuorum: true, electionTimeoutTicks: 10 })
    const leader = cluster.leader()!
    cluster.isolate(leader.id)
    cluster.runFor(10 * 10 * 2 + 50)
    expect(leader.engine.status().role).toBe('follower')
  })

  it('without CheckQuorum an isolated leader keeps believing it leads', () => {
    const cluster = electedCluster(3, { checkQuorum: false, preVote: true })
    const leader = cluster.leader()!
    cluster.isolate(leader.id)
    cluster.runFor(1000)
    expect(leader.engine.status().role).toBe('leader')
  })
})

describe('leadership transfer', () => {
  it('hands leadership to the chosen voter and refuses proposals meanwhile', () => {
    const cluster = electedCluster(3)
    const leader = cluster.leader()!
    const target = cluster.ids.slice(0, 3).find((id) => id !== leader.id)!
    expect(leader.engine.transferLeadership(target)).toEqual({ ok: true })
    expect(leader.engine.propose(bytes('x'), 'x')).toMatchObject({ ok: false, reason: 'transferring' })
    cluster.drain()
    cluster.runFor(200)
    expect(cluster.leader()!.id).toBe(target)
  })

  it('refuses a transfer to a non-voter', () => {
    const cluster = electedCluster(3)
    expect(cluster.leader()!.engine.transferLeadership('n5')).toMatchObject({
      ok: false,
      reason: 'not-voter',
    })
  })
})

describe('log replication', () => {
  it('batches many proposals into one append and pipelines within the in-flight window', () => {
    const leader = engine('a', ['a', 'b', 'c'], {
      preVote: false,
      inflightMessagesMax: 2,
      entriesPerAppendMax: 10,
    })
    for (let tick = 0; tick < 20 && leader.status().role !== 'leader'; tick++) leader.tick()
    messages(leader)
    leader.step('b', { type: 'vote-response', term: 1, granted: true })
    expect(leader.status().role).toBe('leader')
    messages(leader)
    // Acknowledge the noop so the follower enters the replicate state.
    leader.step('b', { type: 'append-response', term: 1, index: 1, reject: false, hintIndex: 0, hintTerm: 0 })
    messages(leader)
    for (let n = 0; n < 50; n++) expect(leader.propose(bytes(`v${n}`), `p${n}`).ok).toBe(true)
    const sent = messages(leader).filter((out) => out.to === 'b' && out.message.type === 'append')
    // Two appends in flight (the window), ten entries each (the batch limit).
    expect(sent).toHaveLength(2)
    for (const out of sent) expect((out.message as AppendRequest).entries).toHaveLength(10)
    // An acknowledgement frees the window and the next batch goes out.
    leader.step('b', {
      type: 'append-response',
      term: 1,
      index: 11,
      reject: false,
      hintIndex: 0,
      hintTerm: 0,
    })
    const next = messages(leader).filter((out) => out.to === 'b' && out.message.type === 'append')
    expect(next).toHaveLength(1)
    expect(next[0]!.message).toMatchObject({ prevIndex: 21 })
  })

  it('with the write left in the background, counts the leader’s own copy only once markDurable confirms it', () => {
    const leader = engine('a', ['a', 'b', 'c'], { preVote: false })
    for (let tick = 0; tick < 20 && leader.status().role !== 'leader'; tick++) leader.tick()
    messages(leader)
    leader.step('b', { type: 'vote-response', term: 1, granted: true })
    messages(leader)
    leader.step('b', { type: 'append-response', term: 1, index: 1, reject: false, hintIndex: 0, hintTerm: 0 })
    messages(leader)
    expect(leader.propose(bytes('x'), 'p1').ok).toBe(true)
    const ready = leader.ready()
    expect(ready.entries.map((entry) => entry.index)).toEqual([2])
    expect(ready.messages).toEqual([])
    leader.advanceBeforeDurable(ready)
    expect(leader.hasReady()).toBe(false)
    // b holds index 2 durably, the leader's write is still in flight: one copy of three, no commit.
    leader.step('b', { type: 'append-response', term: 1, index: 2, reject: false, hintIndex: 0, hintTerm: 0 })
    expect(drain(leader).flatMap((out) => out.committed)).toEqual([])
    expect(leader.status().commitIndex).toBe(1)
    // A confirmation for an index the log does not hold in that term changes nothing.
    leader.markDurable(2, 7)
    expect(leader.status().commitIndex).toBe(1)
    leader.markDurable(2, 1)
    expect(leader.status().commitIndex).toBe(2)
    const committed = drain(leader).flatMap((out) => out.committed.map((entry) => entry.index))
    expect(committed).toEqual([2])
  })

  it('refuses to advance a Ready before its write when the Ready promises that write', () => {
    const candidate = engine('a', ['a', 'b', 'c'], { preVote: false })
    for (let tick = 0; tick < 20 && candidate.status().role !== 'candidate'; tick++) candidate.tick()
    const vote = candidate.ready()
    // A new term and our own vote: the vote requests must not leave before these are durable.
    expect(() => candidate.advanceBeforeDurable(vote)).toThrow()
  })

  it('ignores markDurable for an entry the log has since replaced', () => {
    const follower = engine('b', ['a', 'b', 'c'], { preVote: false })
    follower.step('a', {
      type: 'append',
      term: 1,
      prevIndex: 0,
      prevTerm: 0,
      entries: [{ index: 1, term: 1, kind: 'command', data: bytes('old') }],
      commit: 0,
    })
    drain(follower)
    follower.step('c', {
      type: 'append',
      term: 2,
      prevIndex: 0,
      prevTerm: 0,
      entries: [{ index: 1, term: 2, kind: 'command', data: bytes('new') }],
      commit: 0,
    })
    const replaced = follower.ready()
    expect(replaced.entries.map((entry) => entry.term)).toEqual([2])
    // A late confirmation of the old write must not count the new, unwritten entry as durable.
    follower.markDurable(1, 1)
    expect(follower.entryAt(1)?.term).toBe(2)
    follower.advance(replaced)
  })

  it('backs off nextIndex a whole term at a time using the conflict hint', () => {
    // In-order delivery (no jitter), so every rejection is a log mismatch, not a reordering.
    const cluster = new Cluster({
      seed: 5,
      voters: 3,
      faults: { jitterMs: 0 },
      raft: { entriesPerAppendMax: 8 },
    })
    cluster.runUntil(() => cluster.leader() !== undefined, 5000)
    cluster.runFor(100)
    const deposed = cluster.leader()!
    // The old leader, cut off, appends 100 entries of its term that will never commit...
    cluster.isolate(deposed.id)
    for (let n = 0; n < 100; n++) deposed.engine.propose(bytes(`lost${n}`), `l${n}`)
    cluster.drain()
    // ...while the majority elects a new leader and commits 30 entries of a newer term.
    cluster.runUntil(() => cluster.leader() !== undefined && cluster.leader()!.id !== deposed.id, 5000)
    for (let n = 0; n < 30; n++) cluster.propose(bytes(`kept${n}`))
    cluster.runFor(100)
    // A second change of leader, so the leader's first guess for the deposed replica is its own
    // (long) log end rather than the short log it had when first elected.
    const second = cluster.leader()!
    const third = cluster.ids.slice(0, 3).find((id) => id !== deposed.id && id !== second.id)!
    expect(second.engine.transferLeadership(third).ok).toBe(true)
    cluster.drain()
    cluster.runUntil(() => cluster.leader()?.id === third, 2000)
    let rejections = 0
    const original = deposed.engine.ready.bind(deposed.engine)
    deposed.engine.ready = () => {
      const ready = original()
      for (const out of sent(ready)) {
        if (out.message.type === 'append-response' && out.message.reject && out.message.index > 0)
          rejections++
      }
      return ready
    }
    cluster.heal()
    cluster.runFor(1000)
    const leader = cluster.leader()!
    expect(leader.id).not.toBe(deposed.id)
    expect(deposed.appliedIndex).toBe(leader.appliedIndex)
    // One index at a time would take ~100 rejections; the term hint skips the stale term at once.
    expect(rejections).toBeGreaterThan(0)
    expect(rejections).toBeLessThanOrEqual(3)
  })

  it('commits an earlier term’s entry only through an entry of the leader’s own term (§5.4.2)', () => {
    // 'a' restarts holding an uncommitted entry of term 1 and becomes leader of term 2.
    const old: LogEntry = { index: 1, term: 1, kind: 'command', data: bytes('old') }
    const leader = new RaftEngine({
      id: 'a',
      voters: ['a', 'b', 'c'],
      random: new SeededRandom(3),
      hardState: { term: 1, vote: null, commit: 0 },
      entries: [old],
      options: { preVote: false },
    })
    for (let tick = 0; tick < 20 && leader.status().role !== 'leader'; tick++) leader.tick()
    messages(leader)
    leader.step('b', { type: 'vote-response', term: 2, granted: true })
    expect(leader.status().role).toBe('leader')
    expect(leader.inspect().lastIndex).toBe(2) // the new leader's noop
    messages(leader)
    // b stores entry 1 only: a majority holds index 1, but it is of term 1, so nothing commits.
    leader.step('b', { type: 'append-response', term: 2, index: 1, reject: false, hintIndex: 0, hintTerm: 0 })
    expect(leader.status().commitIndex).toBe(0)
    // Once b stores the noop of term 2, both commit together.
    leader.step('b', { type: 'append-response', term: 2, index: 2, reject: false, hintIndex: 0, hintTerm: 0 })
    expect(leader.status().commitIndex).toBe(2)
  })
})

describe('proposals', () => {
  it('refuses on a follower with the leader id, and refuses too-large and overload', () => {
    const cluster = electedCluster(3, { proposalBytesMax: 16, uncommittedEntriesBytesMax: 32 })
    const leader = cluster.leader()!
    const follower = cluster.node(cluster.ids.slice(0, 3).find((id) => id !== leader.id)!)
    expect(follower.engine.propose(bytes('x'), 'x')).toEqual({
      ok: false,
      reason: 'not-leader',
      leader: leader.id,
    })
    expect(leader.engine.propose(new Uint8Array(17), 'big')).toMatchObject({ ok: false, reason: 'too-large' })
    cluster.partition([[leader.id], cluster.ids.filter((id) => id !== leader.id)])
    let overloaded = false
    for (let n = 0; n < 10 && !overloaded; n++) {
      const result = leader.engine.propose(new Uint8Array(10), `p${n}`)
      overloaded = !result.ok && result.reason === 'overloaded'
    }
    expect(overloaded).toBe(true)
  })
})

describe('step refusals', () => {
  it('refuses a message from a non-member without any state change, even with a future term', () => {
    const cluster = electedCluster(3)
    const follower = cluster.node(cluster.ids.slice(0, 3).find((id) => id !== cluster.leader()!.id)!)
    const before = follower.engine.inspect()
    const vote = follower.engine.step('intruder', {
      type: 'vote',
      term: 99,
      lastIndex: 999,
      lastTerm: 98,
      transfer: true,
    })
    expect(vote).toMatchObject({ ok: false, reason: 'not-member' })
    const append = follower.engine.step('intruder', {
      type: 'append',
      term: 99,
      prevIndex: 0,
      prevTerm: 0,
      entries: [],
      commit: 0,
    })
    expect(append).toMatchObject({ ok: false, reason: 'not-member' })
    expect(follower.engine.inspect()).toEqual(before)
    expect(follower.engine.hasReady()).toBe(false)
  })

  it('reports stale messages and ignores vote requests inside the leader lease', () => {
    const cluster = electedCluster(3, { checkQuorum: true })
    const follower = cluster.node(cluster.ids.slice(0, 3).find((id) => id !== cluster.leader()!.id)!)
    const other = cluster.ids.slice(0, 3).find((id) => id !== follower.id)!
    const term = follower.engine.status().term
    expect(
      follower.engine.step(other, { type: 'heartbeat-response', term: term - 1, round: 1 }),
    ).toMatchObject({
      ok: false,
      reason: 'stale',
    })
    const result = follower.engine.step(other, {
      type: 'vote',
      term: term + 1,
      lastIndex: 999,
      lastTerm: term,
      transfer: false,
    })
    expect(result).toMatchObject({ ok: false, reason: 'stale' })
    expect(follower.engine.status().term).toBe(term)
  })
})

describe('untrusted responses', () => {
  it('refuses acknowledgements of entries or heartbeat rounds the leader never sent', () => {
    const cluster = electedCluster(3)
    const leader = cluster.leader()!
    const follower = cluster.ids.slice(0, 3).find((id) => id !== leader.id)!
    const term = leader.engine.status().term
    const before = leader.engine.inspect()
    expect(
      leader.engine.step(follower, {
        type: 'append-response',
        term,
        index: before.lastIndex + 100,
        reject: false,
        hintIndex: 0,
        hintTerm: 0,
      }),
    ).toMatchObject({ ok: false, reason: 'invalid' })
    expect(leader.engine.step(follower, { type: 'heartbeat-response', term, round: 1e9 })).toMatchObject({
      ok: false,
      reason: 'invalid',
    })
    expect(leader.engine.inspect()).toEqual(before)
  })

  it('ignores timeout-now from anyone but its leader', () => {
    const cluster = electedCluster(3)
    const leader = cluster.leader()!
    const [first, second] = cluster.ids.slice(0, 3).filter((id) => id !== leader.id)
    const follower = cluster.node(first!)
    const term = follower.engine.status().term
    expect(follower.engine.step(second!, { type: 'timeout-now', term })).toMatchObject({
      ok: false,
      reason: 'invalid',
    })
    expect(follower.engine.status()).toMatchObject({ role: 'follower', term })
  })
})

describe('stale configurations', () => {
  it('a replica that missed the change adding the current leader still follows it once leaderless', () => {
    // A follower is cut off while n4 joins and is promoted; then n4 becomes leader.
    const cluster = electedCluster(3, { learnerLagEntriesMax: 0 })
    const stale = cluster.ids.slice(0, 3).find((id) => id !== cluster.leader()!.id)!
    cluster.isolate(stale)
    const steps: Parameters<Cluster['changeMembership']>[0][] = [
      { type: 'add-learner', id: 'n4' },
      { type: 'promote-learner', id: 'n4' },
    ]
    for (const change of steps) {
      expect(cluster.runUntil(() => cluster.changeMembership(change), 2000)).toBe(true)
      cluster.runFor(200)
    }
    const leader = cluster.leader()!
    expect(leader.engine.transferLeadership('n4').ok).toBe(true)
    cluster.drain()
    expect(cluster.runUntil(() => cluster.leader()?.id === 'n4', 3000)).toBe(true)
    expect(cluster.node(stale).engine.status().voters).not.toContain('n4')
    cluster.heal()
    cluster.runFor(2000)
    expect(cluster.leader()!.id).toBe('n4')
    expect(cluster.node(stale).engine.status().voters).toContain('n4')
    expect(cluster.node(stale).appliedIndex).toBe(cluster.leader()!.appliedIndex)
  })
})

/**
 * A 3-voter cluster compacting every 10 entries, one follower crashed while 100 entries go by, then
 * restarted: it can only catch up from the leader's snapshot. Returns the chunks it received (by
 * offset) and the pieces the leader's snapshots were handed over in.
 */
function catchUpFromSnapshot(options: { seed: number; snapshotPieceBytes?: number }) {
  const cluster = new Cluster({
    voters: 3,
    compactEveryEntries: 10,
    raft: { snapshotChunkBytesMax: 8 },
    ...options,
  })
  cluster.runUntil(() => cluster.leader() !== undefined, 5000)
  const leader = cluster.leader()!
  const pieces = new Set<ArrayBufferLike>()
  const compact = leader.engine.compact.bind(leader.engine)
  leader.engine.compact = (snapshot) => {
    if (snapshot.data instanceof BytesInParts) for (const part of snapshot.data.parts) pieces.add(part.buffer)
    compact(snapshot)
  }
  const lagging = cluster.ids.find((id) => id !== leader.id)!
  cluster.crash(lagging)
  for (let n = 0; n < 100; n++) cluster.propose(bytes(`value-${n}`))
  cluster.runFor(200)
  const held = leader.engine.inspect().snapshotIndex
  // A chunk may be sent again (resent after a silent heartbeat): kept once per offset.
  const chunks = new Map<number, Uint8Array>()
  cluster.restart(lagging)
  const node = cluster.node(lagging)
  const step = node.engine.step.bind(node.engine)
  node.engine.step = (from, message) => {
    if (message.type === 'snapshot' && message.meta.index === held) chunks.set(message.offset, message.data)
    return step(from, message)
  }
  cluster.runFor(1000)
  const inOrder = [...chunks].sort(([a], [b]) => a - b).map(([, chunk]) => chunk)
  return { leader, node, held, chunks: inOrder, pieces }
}

describe('snapshots', () => {
  it('streams a snapshot in bounded chunks to a follower behind the compacted log', () => {
    const { leader, node, held, chunks } = catchUpFromSnapshot({ seed: 11 })
    expect(held).toBeGreaterThan(50)
    expect(chunks.length).toBeGreaterThan(1)
    expect(Math.max(...chunks.map((chunk) => chunk.length))).toBeLessThanOrEqual(8)
    expect(node.appliedIndex).toBe(leader.appliedIndex)
    expect(node.engine.inspect().snapshotIndex).toBeGreaterThan(50)
  })

  it('streams a snapshot held in pieces without joining them; chunks spanning pieces arrive intact', () => {
    // The driver hands over a snapshot encoded in steps as pieces; with 8-byte chunks of 20-byte
    // pieces, some chunks lie inside a piece (sent as views of it: nothing was joined) and some span
    // two (copied, just those bytes).
    const { leader, node, held, chunks, pieces } = catchUpFromSnapshot({ seed: 13, snapshotPieceBytes: 20 })
    expect(held).toBeGreaterThan(50)
    expect(chunks.length).toBeGreaterThan(2)
    expect(chunks.some((chunk) => pieces.has(chunk.buffer))).toBe(true)
    expect(chunks.some((chunk) => !pieces.has(chunk.buffer))).toBe(true)
    // The restored state (checked against every replica's state hash by the cluster) came from them.
    expect(node.engine.inspect().snapshotIndex).toBeGreaterThanOrEqual(held)
    expect(node.appliedIndex).toBe(leader.appliedIndex)
    expect(JSON.parse(new TextDecoder().decode(Buffer.concat(chunks)))).toMatchObject({ index: held })
  })

  it('restarts from snapshot plus log and re-applies the committed suffix', () => {
    const cluster = new Cluster({ seed: 12, voters: 3, compactEveryEntries: 20 })
    cluster.runUntil(() => cluster.leader() !== undefined, 5000)
    for (let n = 0; n < 55; n++) cluster.propose(bytes(`v${n}`))
    cluster.runFor(300)
    const leader = cluster.leader()!
    const follower = cluster.ids.find((id) => id !== leader.id)!
    const applied = cluster.node(follower).appliedIndex
    cluster.crash(follower)
    cluster.restart(follower)
    const restarted = cluster.node(follower)
    expect(restarted.engine.inspect().snapshotIndex).toBeGreaterThan(0)
    cluster.runFor(300)
    expect(restarted.appliedIndex).toBe(applied)
  })

  it('refuses to compact entries that were not applied', () => {
    const raft = engine('a', ['a'], { preVote: false })
    for (let tick = 0; tick < 20; tick++) raft.tick()
    raft.propose(bytes('x'), 'x')
    expect(() =>
      raft.compact({ meta: { index: 5, term: 1, membership: new Uint8Array() }, data: new Uint8Array() }),
    ).toThrow()
  })
})

describe('membership changes', () => {
  it('adds a learner that catches up, then promotes it; promotion is refused until it is caught up', () => {
    const cluster = electedCluster(3, { learnerLagEntriesMax: 0 })
    for (let n = 0; n < 40; n++) cluster.propose(bytes(`v${n}`))
    cluster.runFor(100)
    cluster.crash('n4')
    expect(cluster.changeMembership({ type: 'add-learner', id: 'n4' })).toBe(true)
    cluster.runFor(100)
    const leader = cluster.leader()!
    expect(leader.engine.status().learners).toEqual(['n4'])
    expect(leader.engine.proposeMembershipChange({ type: 'promote-learner', id: 'n4' })).toMatchObject({
      ok: false,
      reason: 'not-caught-up',
    })
    cluster.restart('n4')
    cluster.runFor(300)
    expect(cluster.node('n4').appliedIndex).toBe(leader.appliedIndex)
    expect(cluster.node('n4').engine.status().role).toBe('follower')
    expect(cluster.changeMembership({ type: 'promote-learner', id: 'n4' })).toBe(true)
    cluster.runFor(200)
    for (const id of ['n1', 'n2', 'n3', 'n4']) expect(cluster.node(id).engine.status().voters).toContain('n4')
  })

  it('allows one change at a time', () => {
    const cluster = electedCluster(3)
    const leader = cluster.leader()!
    expect(leader.engine.proposeMembershipChange({ type: 'add-learner', id: 'n4' }).ok).toBe(true)
    expect(leader.engine.proposeMembershipChange({ type: 'add-learner', id: 'n5' })).toMatchObject({
      ok: false,
      reason: 'change-pending',
    })
  })

  it('removes the leader itself: it steps down after the removal commits and the rest elect a leader', () => {
    const cluster = electedCluster(3)
    const leader = cluster.leader()!
    expect(cluster.changeMembership({ type: 'remove', id: leader.id })).toBe(true)
    cluster.runFor(500)
    expect(leader.engine.status().role).toBe('follower')
    const next = cluster.leader()!
    expect(next.id).not.toBe(leader.id)
    expect(next.engine.status().voters).not.toContain(leader.id)
    expect(cluster.propose(bytes('after'))).toBe(true)
    cluster.runFor(200)
    for (const id of next.engine.status().voters)
      expect(cluster.node(id).appliedIndex).toBe(next.appliedIndex)
    // The removed replica neither campaigns nor disrupts.
    cluster.runFor(2000)
    expect(cluster.leader()!.id).toBe(next.id)
  })
})

describe('reads', () => {
  it('ReadIndex answers after a heartbeat round with the commit index at request time', () => {
    const cluster = electedCluster(3)
    const leader = cluster.leader()!
    cluster.propose(bytes('w'))
    cluster.runFor(50)
    const commit = leader.engine.status().commitIndex
    expect(leader.engine.readIndex('r1')).toEqual({ ok: true })
    const ready = leader.engine.ready()
    expect(ready.reads).toEqual([])
    expect(sent(ready).filter((out) => out.message.type === 'heartbeat')).toHaveLength(2)
    leader.engine.advance(ready)
    cluster.runFor(20)
    expect(leader.reads).toContainEqual({ context: 'r1', index: commit })
  })

  it('a partitioned leader cannot serve a ReadIndex read', () => {
    const cluster = electedCluster(3, { checkQuorum: false })
    const leader = cluster.leader()!
    cluster.isolate(leader.id)
    expect(leader.engine.readIndex('lost')).toEqual({ ok: true })
    cluster.runFor(500)
    expect(leader.reads.map((read) => read.context)).not.toContain('lost')
  })

  it('lease reads are served at once, without a heartbeat round, while the lease holds', () => {
    const cluster = electedCluster(3, { leaseReads: true, checkQuorum: true })
    const leader = cluster.leader()!
    expect(leader.engine.readIndex('fast')).toEqual({ ok: true })
    const ready = leader.engine.ready()
    expect(ready.reads.map((read) => read.context)).toEqual(['fast'])
    leader.engine.advance(ready)
  })

  it('drops pending reads when leadership is lost', () => {
    const cluster = electedCluster(3, { checkQuorum: true })
    const leader = cluster.leader()!
    cluster.isolate(leader.id)
    leader.engine.readIndex('doomed')
    cluster.runFor(500)
    expect(leader.dropped).toContain('doomed')
  })
})

describe('leader log write in parallel with replication (thesis §10.2.1)', () => {
  /** Steps every Ready to quiescence, delivering what each sends; returns the engines. */
  function settle(engines: RaftEngine[]): void {
    const byId = new Map(engines.map((raft) => [raft.id, raft]))
    for (let round = 0; round < 100; round++) {
      const busy = engines.filter((raft) => raft.hasReady())
      if (busy.length === 0) return
      for (const raft of busy) {
        const ready = raft.ready()
        raft.advance(ready)
        for (const out of sent(ready)) byId.get(out.to)?.step(raft.id, out.message)
      }
    }
    throw new Error('did not settle')
  }

  function electedTrio(): [RaftEngine, RaftEngine, RaftEngine] {
    const voters = ['a', 'b', 'c']
    const trio: [RaftEngine, RaftEngine, RaftEngine] = [
      engine('a', voters, { preVote: false }, 1),
      engine('b', voters, { preVote: false }, 2),
      engine('c', voters, { preVote: false }, 3),
    ]
    while (trio[0].status().role !== 'candidate') trio[0].tick()
    settle(trio)
    expect(trio[0].status().role).toBe('leader')
    expect(trio[0].status().commitIndex).toBe(1)
    return trio
  }

  const appendsIn = (outbound: readonly { to: string; message: RaftMessage }[]): AppendRequest[] =>
    outbound.flatMap((out) => (out.message.type === 'append' ? [out.message] : []))

  it('sends the new entries to followers before its own write, and counts itself only after advance', () => {
    const [leader, b] = electedTrio()
    expect(leader.propose(bytes('x'), 'x')).toEqual({ ok: true })
    const ready = leader.ready()
    expect(ready.entries.map((entry) => entry.index)).toEqual([2])
    expect(ready.mustSync).toBe(true)
    const early = appendsIn(ready.messagesBeforePersist ?? [])
    expect(early.map((append) => append.entries.map((entry) => entry.index))).toEqual([[2], [2]])
    expect(appendsIn(ready.messages)).toEqual([])

    // One follower stores and acknowledges the entry while the leader's write is still in flight.
    b.step('a', early[0]!)
    const followerReady = b.ready()
    expect(followerReady.messagesBeforePersist ?? []).toEqual([])
    expect(followerReady.messages.map((out) => out.message.type)).toEqual(['append-response'])
    b.advance(followerReady)
    leader.step('b', followerReady.messages[0]!.message)
    // Leader (not durable) + one follower is a majority only on paper: no commit yet.
    expect(leader.status().commitIndex).toBe(1)
    leader.advance(ready)
    expect(leader.status().commitIndex).toBe(2)
  })

  it('commits with two followers alone while its own write is still in flight', () => {
    const [leader, b, c] = electedTrio()
    leader.propose(bytes('y'), 'y')
    const ready = leader.ready()
    for (const follower of [b, c]) {
      const append = (ready.messagesBeforePersist ?? []).find((out) => out.to === follower.id)!
      follower.step('a', append.message)
      const followerReady = follower.ready()
      follower.advance(followerReady)
      for (const out of followerReady.messages) leader.step(follower.id, out.message)
    }
    expect(leader.status().commitIndex).toBe(2)
    leader.advance(ready)
    expect(leader.ready().committed.map((entry) => entry.index)).toEqual([2])
  })

  it('a single voter commits its entry only once advance confirms the write', () => {
    const raft = engine('a', ['a'], { preVote: false })
    for (let tick = 0; tick < 20; tick++) raft.tick()
    drain(raft)
    raft.propose(bytes('z'), 'z')
    const ready = raft.ready()
    expect(ready.entries).toHaveLength(1)
    expect(ready.committed).toEqual([])
    expect(raft.status().commitIndex).toBe(1)
    raft.advance(ready)
    expect(raft.status().commitIndex).toBe(2)
    expect(raft.ready().committed.map((entry) => entry.index)).toEqual([2])
  })

  it('sends nothing early from a Ready that changes the term or vote', () => {
    const candidate = engine('a', ['a', 'b', 'c'], { preVote: false })
    while (candidate.status().role !== 'candidate') candidate.tick()
    const campaign = candidate.ready()
    expect(campaign.hardState).toMatchObject({ term: 1, vote: 'a' })
    expect(campaign.messagesBeforePersist ?? []).toEqual([])
    expect(campaign.messages.map((out) => out.message.type)).toEqual(['vote', 'vote'])

    const voter = engine('c', ['a', 'b', 'c'])
    voter.step('a', { type: 'vote', term: 1, lastIndex: 0, lastTerm: 0, transfer: false })
    const vote = voter.ready()
    expect(vote.messagesBeforePersist ?? []).toEqual([])
    expect(vote.messages.map((out) => out.message.type)).toEqual(['vote-response'])
  })
})
