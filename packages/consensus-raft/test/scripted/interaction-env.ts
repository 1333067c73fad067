import { joinedBytes, SeededRandom, type Ready, type Snapshot } from '@socketcloud/core'
import { RaftEngine, type MembershipChange, type RaftMessage, type RaftOptions } from '../../src/index'
import { ScriptError, type ScriptCommand } from './datadriven'
import {
  formatEntry,
  formatHardState,
  formatList,
  formatMembership,
  formatMessage,
  formatReady,
  formatSnapshot,
  messageTypeName,
} from './format'
import type { DurableState } from '../support/cluster'

/**
 * The world a script drives: Raft engines built through the public API, a driver that executes each
 * Ready exactly as core's contract orders it (early messages, persist, messages, apply, advance), a
 * network that holds every message until a script delivers it, and durable storage per node made of
 * exactly what Readies handed over — so `restart` rebuilds a node from what it had persisted and
 * nothing else. Time moves only through explicit ticks; randomness (election timeouts) comes from
 * SeededRandom with a fixed seed per node and incarnation.
 */

interface AppliedCommand {
  readonly index: number
  readonly data: string
}

interface EnvNode {
  readonly id: string
  engine: RaftEngine
  readonly durable: DurableState
  readonly bootstrapVoters: readonly string[]
  readonly bootstrapLearners: readonly string[]
  readonly options: Partial<RaftOptions>
  readonly seed: number
  incarnation: number
  /** The replicated state machine: every applied command, in order (restored from snapshots). */
  applied: AppliedCommand[]
  appliedIndex: number
}

interface InFlight {
  readonly from: string
  readonly to: string
  readonly message: RaftMessage
}

/** A read the driver must serve on `origin` once its applied index reaches `index`. */
interface PendingRead {
  readonly context: string
  readonly origin: string
  index: number | null
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class InteractionEnv {
  private readonly nodes = new Map<string, EnvNode>()
  private network: InFlight[] = []
  private readonly isolated = new Set<string>()
  private readonly reads: PendingRead[] = []

  handle(command: ScriptCommand): string {
    switch (command.name) {
      case 'add-nodes':
        return this.addNodes(command)
      case 'campaign':
        return this.campaign(command)
      case 'tick':
        return this.tick(this.node(command, 0), this.count(command, 1, 1))
      case 'tick-heartbeat': {
        const node = this.node(command, 0)
        return this.tick(node, node.engine.options.heartbeatTicks * this.count(command, 1, 1))
      }
      case 'tick-election': {
        const node = this.node(command, 0)
        return this.tick(node, node.engine.options.electionTimeoutTicks * this.count(command, 1, 1))
      }
      case 'propose':
        return this.propose(command)
      case 'propose-conf-change':
        return this.proposeConfChange(command)
      case 'transfer-leader':
        return this.transferLeader(command)
      case 'read-index':
        return this.readIndex(command)
      case 'process-ready':
        return this.targets(command)
          .map((node) => this.processReady(node).join('\n'))
          .join('\n')
      case 'deliver-msgs':
        return this.deliverMessages(command).join('\n')
      case 'stabilize':
        return this.stabilize(command)
      case 'isolate':
        this.isolated.add(this.node(command, 0).id)
        return 'ok'
      case 'heal':
        this.isolated.clear()
        return 'ok'
      case 'status':
        return this.targets(command)
          .map((node) => this.status(node))
          .join('\n')
      case 'raft-log':
        return this.raftLog(this.node(command, 0))
      case 'storage':
        return this.storage(this.node(command, 0))
      case 'compact':
        return this.compact(this.node(command, 0), this.count(command, 1, null))
      case 'restart':
        return this.restart(this.node(command, 0))
      default:
        throw new ScriptError(`${command.file}:${command.line}: unknown command "${command.name}"`)
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Cluster setup and inputs

  private addNodes(command: ScriptCommand): string {
    const count = this.count(command, 0, null)
    const voters = this.list(command, 'voters') ?? []
    const learners = this.list(command, 'learners') ?? []
    const options: Partial<RaftOptions> = {
      preVote: this.flag(command, 'prevote') ?? true,
      checkQuorum: this.flag(command, 'checkquorum') ?? true,
      electionTimeoutTicks: this.number(command, 'election') ?? 10,
      heartbeatTicks: this.number(command, 'heartbeat') ?? 1,
      ...optional('entriesPerAppendMax', this.number(command, 'max-entries')),
      ...optional('inflightMessagesMax', this.number(command, 'inflight')),
      ...optional('snapshotChunkBytesMax', this.number(command, 'snapshot-chunk')),
      ...optional('learnerLagEntriesMax', this.number(command, 'learner-lag')),
      ...optional('leaseReads', this.flag(command, 'lease')),
    }
    const seed = this.number(command, 'seed') ?? 1
    for (let added = 0; added < count; added++) {
      const id = String(this.nodes.size + 1)
      const node: EnvNode = {
        id,
        engine: undefined as unknown as RaftEngine,
        durable: { hardState: null, entries: [], compactedIndex: 0, compactedTerm: 0, snapshot: null },
        bootstrapVoters: voters,
        bootstrapLearners: learners,
        options,
        seed,
        incarnation: 0,
        applied: [],
        appliedIndex: 0,
      }
      this.boot(node)
      this.nodes.set(id, node)
    }
    return 'ok'
  }

  private boot(node: EnvNode): void {
    const { durable } = node
    node.engine = new RaftEngine({
      id: node.id,
      voters: node.bootstrapVoters,
      learners: node.bootstrapLearners,
      random: new SeededRandom(node.seed * 1_000_003 + Number(node.id) * 1009 + node.incarnation),
      hardState: durable.hardState,
      entries: durable.entries,
      compactedIndex: durable.compactedIndex,
      compactedTerm: durable.compactedTerm,
      snapshot: durable.snapshot,
      options: node.options,
    })
    node.applied = durable.snapshot === null ? [] : decodeState(joinedBytes(durable.snapshot.data))
    node.appliedIndex = durable.snapshot?.meta.index ?? 0
  }

  /** Ticks until the node's election timer fires (a randomized timeout in [T, 2T)). */
  private campaign(command: ScriptCommand): string {
    const node = this.node(command, 0)
    if (node.engine.status().role !== 'follower') {
      throw new Error(
        `${command.file}:${command.line}: campaign needs a follower; tick-election a ${node.engine.status().role}`,
      )
    }
    const limit = 2 * node.engine.options.electionTimeoutTicks
    for (let ticks = 0; ticks < limit; ticks++) {
      node.engine.tick()
      if (node.engine.status().role !== 'follower') return 'ok'
    }
    return `${node.id} did not campaign within ${limit} ticks (role ${node.engine.status().role})`
  }

  private tick(node: EnvNode, count: number): string {
    for (let tick = 0; tick < count; tick++) node.engine.tick()
    return 'ok'
  }

  private propose(command: ScriptCommand): string {
    const node = this.node(command, 0)
    const data = command.positional[1]
    if (data === undefined || /[,@]/.test(data)) {
      throw new ScriptError(`${command.file}:${command.line}: propose <id> <data without ',' or '@'>`)
    }
    const result = node.engine.propose(encoder.encode(data), data)
    return result.ok ? 'ok' : `refused: ${result.reason} (leader ${result.leader ?? '-'})`
  }

  private proposeConfChange(command: ScriptCommand): string {
    const node = this.node(command, 0)
    const kinds: Record<string, MembershipChange['type']> = {
      'add-learner': 'add-learner',
      promote: 'promote-learner',
      remove: 'remove',
    }
    const arg = command.args[0]
    const type = arg === undefined ? undefined : kinds[arg.key]
    if (arg === undefined || type === undefined || arg.values.length !== 1) {
      throw new ScriptError(
        `${command.file}:${command.line}: propose-conf-change <id> add-learner=<id>|promote=<id>|remove=<id>`,
      )
    }
    const result = node.engine.proposeMembershipChange({ type, id: arg.values[0]! })
    return result.ok
      ? `ok index ${result.index}`
      : `refused: ${result.reason} (leader ${result.leader ?? '-'}): ${result.detail}`
  }

  private transferLeader(command: ScriptCommand): string {
    const node = this.node(command, 0)
    const to = command.positional[1]
    if (to === undefined)
      throw new ScriptError(`${command.file}:${command.line}: transfer-leader <from> <to>`)
    const result = node.engine.transferLeadership(to)
    return result.ok ? 'ok' : `refused: ${result.reason} (leader ${result.leader ?? '-'})`
  }

  /**
   * A read on `id`. The engine serves ReadIndex only on the leader and refuses elsewhere naming the
   * leader; like the runtime driver, the env then forwards the request to that leader. The read
   * index travels back to the origin out of band, and the origin serves the read once it has
   * applied through that index (printed when processing a Ready makes that true).
   */
  private readIndex(command: ScriptCommand): string {
    const origin = this.node(command, 0)
    const context = command.positional[1]
    if (context === undefined)
      throw new ScriptError(`${command.file}:${command.line}: read-index <id> <context>`)
    const result = origin.engine.readIndex(context)
    if (result.ok) {
      this.reads.push({ context, origin: origin.id, index: null })
      return 'ok'
    }
    const leader = result.leader === null ? undefined : this.nodes.get(result.leader)
    if (result.reason !== 'not-leader' || leader === undefined) {
      return `refused: ${result.reason} (leader ${result.leader ?? '-'})`
    }
    const forwarded = leader.engine.readIndex(context)
    if (!forwarded.ok) {
      return `refused: ${result.reason}; forwarded to ${leader.id}, refused: ${forwarded.reason}`
    }
    this.reads.push({ context, origin: origin.id, index: null })
    return `refused: not-leader; forwarded to ${leader.id}`
  }

  private compact(node: EnvNode, index: number): string {
    if (index > node.appliedIndex) {
      return `cannot compact ${node.id} at ${index}: applied only through ${node.appliedIndex}`
    }
    const meta = node.engine.snapshotMeta(index)
    const data = encodeState(node.applied.filter((command) => command.index <= index))
    const snapshot: Snapshot = { meta, data }
    node.engine.compact(snapshot)
    const { durable } = node
    durable.snapshot = snapshot
    durable.entries = durable.entries.filter((entry) => entry.index > index)
    durable.compactedIndex = index
    durable.compactedTerm = meta.term
    return 'ok'
  }

  /** A crash and restart: whatever was not handed over by a Ready (and persisted) is gone. */
  private restart(node: EnvNode): string {
    node.incarnation++
    this.boot(node)
    for (let position = this.reads.length - 1; position >= 0; position--) {
      if (this.reads[position]!.origin === node.id) this.reads.splice(position, 1)
    }
    return 'ok'
  }

  // ---------------------------------------------------------------------------------------------
  // The driver: Ready execution and message delivery

  private processReady(node: EnvNode): string[] {
    const { engine } = node
    if (!engine.hasReady()) return ['<no Ready>']
    const ready = engine.ready()
    const lines = formatReady(node.id, ready)
    // 0. Messages that promise nothing about our storage leave first.
    this.enqueue(node.id, ready.messagesBeforePersist ?? [])
    // 1. Persist.
    this.persist(node, ready)
    // 2. Messages that promise this Ready is durable.
    this.enqueue(node.id, ready.messages)
    // 3. Apply.
    if (ready.snapshot !== null) {
      node.applied = decodeState(joinedBytes(ready.snapshot.data))
      node.appliedIndex = ready.snapshot.meta.index
    }
    for (const entry of ready.committed) {
      if (entry.kind === 'command')
        node.applied.push({ index: entry.index, data: decoder.decode(entry.data) })
      node.appliedIndex = entry.index
    }
    // 4. Reads: a read state goes to the replica that asked for it.
    for (const read of ready.reads) {
      const pending = this.reads.find(
        (candidate) => candidate.context === read.context && candidate.index === null,
      )
      if (pending !== undefined) pending.index = read.index
      else lines.push(`unexpected read state ${read.context}`)
    }
    for (const context of ready.dropped) {
      const position = this.reads.findIndex((candidate) => candidate.context === context)
      if (position >= 0) this.reads.splice(position, 1)
    }
    // 5. Done.
    engine.advance(ready)
    lines.push(...this.serveReads())
    return lines
  }

  private persist(node: EnvNode, ready: Ready<RaftMessage>): void {
    const { durable } = node
    if (ready.snapshot !== null) {
      const { index, term } = ready.snapshot.meta
      const atIndex = durable.entries.find((entry) => entry.index === index)
      durable.entries =
        atIndex !== undefined && atIndex.term === term
          ? durable.entries.filter((entry) => entry.index > index)
          : []
      durable.snapshot = ready.snapshot
      durable.compactedIndex = index
      durable.compactedTerm = term
    }
    const first = ready.entries[0]
    if (first !== undefined) {
      durable.entries = durable.entries.filter((entry) => entry.index < first.index)
      durable.entries.push(...ready.entries)
    }
    if (ready.hardState !== null) durable.hardState = ready.hardState
  }

  private serveReads(): string[] {
    const lines: string[] = []
    for (let position = 0; position < this.reads.length;) {
      const read = this.reads[position]!
      const origin = this.nodes.get(read.origin)!
      if (read.index !== null && origin.appliedIndex >= read.index) {
        lines.push(
          `read ${read.context} served on ${origin.id} at read index ${read.index} (applied ${origin.appliedIndex}): ${formatState(origin.applied)}`,
        )
        this.reads.splice(position, 1)
      } else {
        position++
      }
    }
    return lines
  }

  private enqueue(from: string, outbound: readonly { to: string; message: RaftMessage }[]): void {
    for (const { to, message } of outbound) this.network.push({ from, to, message })
  }

  /**
   * Delivers (or drops) held messages in the order they were sent. Positional ids choose the
   * recipients (default: all); `drop=(ids)` discards messages to those recipients instead; `type=`
   * and `from=` narrow the selection. Messages not selected stay in flight.
   */
  private deliverMessages(command: ScriptCommand): string[] {
    const recipients = command.positional.length > 0 ? new Set(command.positional) : null
    const drop = new Set(this.list(command, 'drop') ?? [])
    const type = this.string(command, 'type')
    const from = this.string(command, 'from')
    const selected = (inFlight: InFlight, to: Set<string> | null): boolean =>
      (to === null || to.has(inFlight.to)) &&
      (type === undefined || messageTypeName(inFlight.message) === type) &&
      (from === undefined || inFlight.from === from)
    const lines: string[] = []
    if (drop.size > 0) {
      const kept: InFlight[] = []
      for (const inFlight of this.network) {
        if (selected(inFlight, drop)) lines.push(`dropped: ${formatMessage(inFlight.from, inFlight)}`)
        else kept.push(inFlight)
      }
      this.network = kept
      if (recipients === null) return lines
    }
    lines.push(...this.deliver((inFlight) => selected(inFlight, recipients)))
    return lines.length === 0 ? ['no messages'] : lines
  }

  private deliver(selected: (inFlight: InFlight) => boolean): string[] {
    const batch = this.network.filter(selected)
    this.network = this.network.filter((inFlight) => !selected(inFlight))
    const lines: string[] = []
    for (const inFlight of batch) {
      const text = formatMessage(inFlight.from, inFlight)
      const target = this.nodes.get(inFlight.to)
      if (this.isolated.has(inFlight.from) || this.isolated.has(inFlight.to)) {
        lines.push(`${text} (dropped: partition)`)
        continue
      }
      if (target === undefined) {
        lines.push(`${text} (dropped: no node ${inFlight.to})`)
        continue
      }
      lines.push(text)
      const result = target.engine.step(inFlight.from, inFlight.message)
      if (!result.ok) lines.push(`  refused (${result.reason}): ${result.detail}`)
    }
    return lines
  }

  /**
   * Processes Readies and delivers messages until nothing is left to do (etcd's `stabilize`), among
   * the named nodes (default all). `quiet=true` prints only `ok` (for setup the script already showed).
   */
  private stabilize(command: ScriptCommand): string {
    const chosen = command.positional.length > 0 ? this.targets(command) : this.sortedNodes()
    const ids = new Set(chosen.map((node) => node.id))
    const lines: string[] = []
    for (let round = 0; round < 1000; round++) {
      let progressed = false
      for (const node of chosen) {
        if (!node.engine.hasReady()) continue
        progressed = true
        lines.push(`> ${node.id} handling Ready`, ...this.processReady(node).map((line) => `  ${line}`))
      }
      for (const node of chosen) {
        if (!this.network.some((inFlight) => inFlight.to === node.id)) continue
        progressed = true
        lines.push(
          `> ${node.id} receiving messages`,
          ...this.deliver((inFlight) => inFlight.to === node.id && ids.has(node.id)).map(
            (line) => `  ${line}`,
          ),
        )
      }
      if (!progressed) return this.flag(command, 'quiet') === true ? 'ok' : lines.join('\n')
    }
    throw new Error('stabilize: still busy after 1000 rounds (livelock?)')
  }

  // ---------------------------------------------------------------------------------------------
  // Inspection

  private status(node: EnvNode): string {
    const view = node.engine.inspect()
    const lines = [
      `${node.id}: ${view.role} Term:${view.term} Lead:${view.leader ?? '-'} Vote:${view.vote ?? '-'} ` +
        `Commit:${view.commitIndex} Applied:${view.appliedIndex} Last:${view.lastTerm}/${view.lastIndex} ` +
        formatMembership(view.membership) +
        (view.transferee === null ? '' : ` Transferee:${view.transferee}`),
    ]
    const progress = [...view.progress.entries()].sort(([a], [b]) => Number(a) - Number(b))
    for (const [id, entry] of progress) {
      lines.push(`  ${id}: ${entry.state} match=${entry.match} next=${entry.next}`)
    }
    return lines.join('\n')
  }

  /** The node's in-memory log (persisted or not). */
  private raftLog(node: EnvNode): string {
    const view = node.engine.inspect()
    const lines: string[] = []
    if (view.snapshotIndex > 0) {
      lines.push(`snapshot ${node.engine.termAt(view.snapshotIndex)}/${view.snapshotIndex}`)
    }
    for (let index = view.snapshotIndex + 1; index <= view.lastIndex; index++) {
      lines.push(formatEntry(node.engine.entryAt(index)!))
    }
    return lines.length === 0 ? 'log is empty' : lines.join('\n')
  }

  /** What a restart would find on the node's disk, and its applied state machine. */
  private storage(node: EnvNode): string {
    const { durable } = node
    const lines = [durable.hardState === null ? 'HardState: none' : formatHardState(durable.hardState)]
    if (durable.snapshot !== null) lines.push(formatSnapshot(durable.snapshot))
    for (const entry of durable.entries) lines.push(formatEntry(entry))
    lines.push(`Applied:${node.appliedIndex} State:${formatState(node.applied)}`)
    return lines.join('\n')
  }

  // ---------------------------------------------------------------------------------------------
  // Argument helpers

  private sortedNodes(): EnvNode[] {
    return [...this.nodes.values()].sort((a, b) => Number(a.id) - Number(b.id))
  }

  /** The nodes named by positional arguments (all nodes when none). */
  private targets(command: ScriptCommand): EnvNode[] {
    if (command.positional.length === 0) return this.sortedNodes()
    return command.positional.map((_, position) => this.node(command, position))
  }

  private node(command: ScriptCommand, position: number): EnvNode {
    const id = command.positional[position]
    const node = id === undefined ? undefined : this.nodes.get(id)
    if (node === undefined) {
      throw new ScriptError(`${command.file}:${command.line}: argument ${position + 1} must name a node`)
    }
    return node
  }

  private count(command: ScriptCommand, position: number, fallback: number | null): number {
    const text = command.positional[position]
    if (text === undefined && fallback !== null) return fallback
    const value = Number(text)
    if (!Number.isInteger(value) || value < 0) {
      throw new ScriptError(`${command.file}:${command.line}: argument ${position + 1} must be a count`)
    }
    return value
  }

  private string(command: ScriptCommand, key: string): string | undefined {
    const arg = command.args.find((candidate) => candidate.key === key)
    return arg === undefined ? undefined : arg.values.join(',')
  }

  private list(command: ScriptCommand, key: string): string[] | undefined {
    const arg = command.args.find((candidate) => candidate.key === key)
    return arg === undefined ? undefined : [...arg.values]
  }

  private number(command: ScriptCommand, key: string): number | undefined {
    const text = this.string(command, key)
    if (text === undefined) return undefined
    const value = Number(text)
    if (!Number.isInteger(value))
      throw new ScriptError(`${command.file}:${command.line}: ${key} must be an integer`)
    return value
  }

  private flag(command: ScriptCommand, key: string): boolean | undefined {
    const text = this.string(command, key)
    if (text === undefined) return undefined
    if (text !== 'true' && text !== 'false') {
      throw new ScriptError(`${command.file}:${command.line}: ${key} must be true or false`)
    }
    return text === 'true'
  }
}

function optional<K extends keyof RaftOptions>(
  key: K,
  value: RaftOptions[K] | undefined,
): Partial<RaftOptions> {
  return value === undefined ? {} : ({ [key]: value } as Partial<RaftOptions>)
}

/** The state machine's snapshot: `data@index` for every applied command, comma-separated. */
function encodeState(applied: readonly AppliedCommand[]): Uint8Array {
  return encoder.encode(applied.map((command) => `${command.data}@${command.index}`).join(','))
}

function decodeState(bytes: Uint8Array): AppliedCommand[] {
  const text = decoder.decode(bytes)
  if (text === '') return []
  return text.split(',').map((part) => {
    const at = part.lastIndexOf('@')
    return { data: part.slice(0, at), index: Number(part.slice(at + 1)) }
  })
}

function formatState(applied: readonly AppliedCommand[]): string {
  return formatList(applied.map((command) => `${command.data}@${command.index}`))
}
