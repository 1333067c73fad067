import { Codec, NodeId, SeededRandom, type OutboundMessage, type Ready } from '@socketcloud/core'
import { RaftEngine, RaftMessageCodec, type RaftMessage } from '@socketcloud/consensus-raft'
import { defineBenchmark, round, type BenchCase, type BenchContext } from '../src/harness'

/**
 * Three Raft engines in one process, exchanging messages directly through in-memory queues: real
 * CPU, no I/O, no sleeps, no timers. A closed-loop client proposes a batch of 100-byte commands to
 * the leader, then the engines run their Ready loops (persist is a no-op, messages are delivered to
 * the peers' queues) until the whole batch is committed on the leader; every command's commit
 * latency (propose → appearing in the leader's `Ready.committed`) goes into the histogram.
 *
 * Cases vary the batch size and how many batches are outstanding at once (pipelining), and run once with messages passed as objects and once through the
 * real wire path (RaftMessageCodec + core's msgpack envelope encode and decode per message). The
 * baseline is a single-voter engine (no replication at all) under the same load. Logs are compacted
 * behind the applied index every 10,000 entries (RAFT_INPROCESS_COMPACT_EVERY), as a running replica's
 * snapshots would.
 */
const valueBytes = 100
// Each engine compacts its log behind what it applied every this many entries, as ConsensusRuntime
// does after each snapshot. Without it every entry stays reachable for the whole run and the garbage
// collector's cost grows with the heap (three decoded copies per entry on the wire path). At these
// rates 10,000 entries are a hundredth of a second of log; the runtime's default interval (100,000)
// would mean ten snapshots a second here, and entries living that long are promoted out of the young
// generation (RAFT_INPROCESS_COMPACT_EVERY=100000 shows the cost).
const compactEveryEntries = Number(process.env.RAFT_INPROCESS_COMPACT_EVERY ?? 10_000)
const nowNs = (): number => performance.now() * 1e6

interface InFlight {
  from: string
  bytes: Uint8Array | null
  message: RaftMessage | null
  to: string
}

class InProcessCluster {
  readonly engines: RaftEngine[]
  private queue: InFlight[] = []
  /** Proposal time (ns) of every uncommitted command, indexed by log index - `firstPending`. */
  private pendingSince: number[] = []
  private firstPending = 0
  committed = 0
  private readonly raftCodec = new RaftMessageCodec()
  private readonly envelope = new Codec()
  private readonly senders = new Map<string, NodeId>()
  /** Per engine: the last entry handed out as committed, and where its log was last compacted. */
  private readonly applied = new Map<RaftEngine, { index: number; term: number; compactedAt: number }>()

  constructor(
    voters: number,
    private readonly wire: boolean,
  ) {
    const ids = Array.from({ length: voters }, (_, position) => `node-${position + 1}`)
    this.engines = ids.map(
      (id, position) =>
        new RaftEngine({
          id,
          voters: ids,
          random: new SeededRandom(position + 1),
          options: {
            inflightMessagesMax: 64,
            entriesPerAppendMax: 8192,
            uncommittedEntriesBytesMax: 1 << 30,
          },
        }),
    )
    for (const [position, id] of ids.entries()) {
      this.senders.set(id, NodeId.fromHex((position + 1).toString(16).padStart(2, '0').repeat(32)))
    }
    // Elect node-1: tick only it until it campaigns, then let the messages flow.
    const first = this.engines[0]!
    while (first.status().role !== 'leader') {
      first.tick()
      this.pump()
    }
    this.pump()
  }

  get leader(): RaftEngine {
    return this.engines[0]!
  }

  private deliver(from: string, outbound: OutboundMessage<RaftMessage>): void {
    if (!this.wire) {
      this.queue.push({ from, to: outbound.to, message: outbound.message, bytes: null })
      return
    }
    const bytes = this.envelope.encode({
      type: this.raftCodec.typeOf(outbound.message),
      sender: this.senders.get(from)!,
      payload: this.raftCodec.encode(outbound.message),
    })
    this.queue.push({ from, to: outbound.to, message: null, bytes })
  }

  get pending(): number {
    return this.pendingSince.length
  }

  private handle(
    engine: RaftEngine,
    ready: Ready<RaftMessage>,
    latency?: (ns: number, count: number) => void,
  ): void {
    for (const outbound of ready.messagesBeforePersist ?? []) this.deliver(engine.id, outbound)
    for (const outbound of ready.messages) this.deliver(engine.id, outbound)
    if (engine === this.leader && ready.committed.length > 0) {
      const now = nowNs()
      let done = 0
      // Commands proposed together commit together: one histogram update per run of equal latency,
      // so the recorder's cost stays out of the engines' figure.
      let runSince = -1
      let runLength = 0
      for (const entry of ready.committed) {
        const position = entry.index - this.firstPending
        if (position < 0 || position >= this.pendingSince.length) continue
        const since = this.pendingSince[position]!
        if (since !== runSince) {
          if (runLength > 0) latency?.(now - runSince, runLength)
          runSince = since
          runLength = 0
        }
        runLength++
        done = position + 1
      }
      if (runLength > 0) latency?.(now - runSince, runLength)
      if (done > 0) {
        this.committed += done
        this.pendingSince = this.pendingSince.slice(done)
        this.firstPending += done
      }
    }
    engine.advance(ready)
    const last = ready.committed[ready.committed.length - 1]
    if (last === undefined) return
    const applied = this.applied.get(engine) ?? { index: 0, term: 0, compactedAt: 0 }
    applied.index = last.index
    applied.term = last.term
    this.applied.set(engine, applied)
    if (applied.index - applied.compactedAt >= compactEveryEntries) {
      engine.compact({
        meta: { index: applied.index, term: applied.term, membership: new Uint8Array(0) },
        data: new Uint8Array(0),
      })
      applied.compactedAt = applied.index
    }
  }

  /** One round: every engine runs its Ready loop, then queued messages are stepped. */
  pump(latency?: (ns: number, count: number) => void): boolean {
    let progressed = false
    for (const engine of this.engines) {
      while (engine.hasReady()) {
        progressed = true
        this.handle(engine, engine.ready(), latency)
      }
    }
    const queue = this.queue
    this.queue = []
    for (const item of queue) {
      progressed = true
      const target = this.engines.find((engine) => engine.id === item.to)!
      let message = item.message
      if (message === null) {
        const envelope = this.envelope.decode(item.bytes!)
        message = this.raftCodec.decode(envelope.type, envelope.payload)
      }
      target.step(item.from, message)
    }
    return progressed
  }

  proposeBatch(count: number, payload: Uint8Array): void {
    const now = nowNs()
    if (this.pendingSince.length === 0) this.firstPending = this.leader.inspect().lastIndex + 1
    for (let n = 0; n < count; n++) {
      const result = this.leader.propose(payload, '')
      if (!result.ok) throw new Error(`proposal refused: ${result.reason}`)
      this.pendingSince.push(now)
    }
  }
}

async function measureCase(
  ctx: BenchContext,
  name: string,
  voters: number,
  wire: boolean,
  batch: number,
  depth = 1,
): Promise<BenchCase> {
  const cluster = new InProcessCluster(voters, wire)
  const payload = new Uint8Array(valueBytes).fill(7)
  const recorder = ctx.latencyRecorder()
  let recording = false
  const record = (ns: number, count: number): void => {
    if (recording) recorder.recordNanoseconds(ns, count)
  }
  const runBatch = (): number => {
    const before = cluster.committed
    cluster.proposeBatch(batch, payload)
    // Keep up to `depth` batches outstanding: pump until there is room for the next one.
    while (cluster.pending > (depth - 1) * batch) cluster.pump(record)
    return cluster.committed - before
  }
  // Warm up outside the histogram, then record during the timed runs.
  for (let n = 0; n < 200; n++) runBatch()
  recording = true
  const result = await ctx.measureThroughput(name, runBatch, { warmupMs: ctx.quick ? 100 : 500 })
  result.p50_us = round(recorder.percentileMicroseconds(50))
  result.p99_us = round(recorder.percentileMicroseconds(99))
  result.batch = batch
  result.depth = depth
  result.samples = recorder.count
  return result
}

export default defineBenchmark({
  name: 'raft-inprocess',
  description: 'three Raft engines in one process: committed ops/s and commit latency, batched proposals',
  async run(ctx) {
    // RAFT_INPROCESS_CASES=<text> runs only the replicated cases whose name contains it (diagnosis).
    const only = process.env.RAFT_INPROCESS_CASES
    const plan: Array<[string, boolean, number, number]> = [
      ['3 engines, objects, batch 1', false, 1, 1],
      ['3 engines, objects, batch 64', false, 64, 1],
      ['3 engines, objects, batch 1024', false, 1024, 1],
      ['3 engines, objects, 4 batches of 256 in flight', false, 256, 4],
      ['3 engines, msgpack wire, batch 64', true, 64, 1],
      ['3 engines, msgpack wire, batch 1024', true, 1024, 1],
      ['3 engines, msgpack wire, 4 batches of 256 in flight', true, 256, 4],
    ]
    const cases: BenchCase[] = []
    for (const [name, wire, batch, depth] of plan) {
      if (only === undefined || name.includes(only))
        cases.push(await measureCase(ctx, name, 3, wire, batch, depth))
    }
    const baseline = [await measureCase(ctx, '1 engine (no replication), batch 1024', 1, false, 1024)]
    return {
      name: 'raft-inprocess',
      cases,
      baseline: { 'single voter': baseline },
      notes: [
        'Closed loop: `depth` batches outstanding; latency is propose → committed on the leader, per command.',
        'No disk: persist is a no-op here (the raft-cluster benchmark measures fsync).',
        `Each engine compacts its log every ${compactEveryEntries.toLocaleString('en-US')} applied entries (RAFT_INPROCESS_COMPACT_EVERY).`,
        '100-byte commands; engines stepped synchronously on one thread.',
      ],
    }
  },
})
