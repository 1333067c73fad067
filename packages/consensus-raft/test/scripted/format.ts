import {
  joinedBytes,
  type HardState,
  type LogEntry,
  type OutboundMessage,
  type Ready,
  type Snapshot,
} from '@socketcloud/core'
import { decodeMembership, type Membership, type RaftMessage } from '../../src/index'

/**
 * The compact text forms the scripts assert on, modelled on etcd's raft test output:
 * `term/index` pairs are written `Log:term/index`, entries `term/index kind "data"`, messages
 * `from->to MsgType Term:t ...`.
 */
const decoder = new TextDecoder()

export function formatList(ids: readonly string[]): string {
  return `(${ids.join(',')})`
}

export function formatMembership(membership: Membership): string {
  return `voters=${formatList(membership.voters)} learners=${formatList(membership.learners)}`
}

export function formatEntry(entry: LogEntry): string {
  const head = `${entry.term}/${entry.index}`
  switch (entry.kind) {
    case 'noop':
      return `${head} EntryNoop`
    case 'config':
      return `${head} EntryConfig ${formatMembership(decodeMembership(entry.data))}`
    case 'command':
      return `${head} EntryNormal ${JSON.stringify(decoder.decode(entry.data))}`
  }
}

export function formatHardState(hardState: HardState): string {
  return `HardState Term:${hardState.term} Vote:${hardState.vote ?? '-'} Commit:${hardState.commit}`
}

export function formatSnapshot(snapshot: Snapshot): string {
  const membership = decodeMembership(snapshot.meta.membership)
  return (
    `Snapshot ${snapshot.meta.term}/${snapshot.meta.index} ${formatMembership(membership)} ` +
    `Data:${decoder.decode(joinedBytes(snapshot.data))}`
  )
}

export function formatMessage(from: string, outbound: OutboundMessage<RaftMessage>): string {
  const { message } = outbound
  const head = `${from}->${outbound.to}`
  switch (message.type) {
    case 'pre-vote':
      return `${head} MsgPreVote Term:${message.term} Log:${message.lastTerm}/${message.lastIndex}`
    case 'vote':
      return (
        `${head} MsgVote Term:${message.term} Log:${message.lastTerm}/${message.lastIndex}` +
        (message.transfer ? ' Transfer' : '')
      )
    case 'pre-vote-response':
      return `${head} MsgPreVoteResp Term:${message.term} ${message.granted ? 'Granted' : 'Rejected'}`
    case 'vote-response':
      return `${head} MsgVoteResp Term:${message.term} ${message.granted ? 'Granted' : 'Rejected'}`
    case 'append': {
      const entries =
        message.entries.length > 0 ? ` Entries:[${message.entries.map(formatEntry).join(', ')}]` : ''
      return `${head} MsgApp Term:${message.term} Log:${message.prevTerm}/${message.prevIndex} Commit:${message.commit}${entries}`
    }
    case 'append-response':
      return message.reject
        ? `${head} MsgAppResp Term:${message.term} Index:${message.index} Rejected (Hint: ${message.hintTerm}/${message.hintIndex})`
        : `${head} MsgAppResp Term:${message.term} Index:${message.index}`
    case 'heartbeat':
      return `${head} MsgHeartbeat Term:${message.term} Commit:${message.commit} Round:${message.round}`
    case 'heartbeat-response':
      return `${head} MsgHeartbeatResp Term:${message.term} Round:${message.round}`
    case 'snapshot':
      return (
        `${head} MsgSnap Term:${message.term} Snapshot:${message.meta.term}/${message.meta.index} ` +
        `Bytes:${message.offset}+${message.data.length}/${message.totalBytes}`
      )
    case 'snapshot-response':
      return `${head} MsgSnapResp Term:${message.term} Index:${message.index} Offset:${message.offset}`
    case 'timeout-now':
      return `${head} MsgTimeoutNow Term:${message.term}`
  }
}

/** The name a script uses to select messages (`type=MsgApp`). */
export function messageTypeName(message: RaftMessage): string {
  const names: Record<RaftMessage['type'], string> = {
    'pre-vote': 'MsgPreVote',
    'pre-vote-response': 'MsgPreVoteResp',
    vote: 'MsgVote',
    'vote-response': 'MsgVoteResp',
    append: 'MsgApp',
    'append-response': 'MsgAppResp',
    heartbeat: 'MsgHeartbeat',
    'heartbeat-response': 'MsgHeartbeatResp',
    snapshot: 'MsgSnap',
    'snapshot-response': 'MsgSnapResp',
    'timeout-now': 'MsgTimeoutNow',
  }
  return names[message.type]
}

/** A Ready, section by section in the order the driver executes it; empty sections are left out. */
export function formatReady(id: string, ready: Ready<RaftMessage>): string[] {
  const lines = [`Ready MustSync=${ready.mustSync}:`]
  if (ready.status !== null) {
    lines.push(
      `Status: ${ready.status.role} Term:${ready.status.term} Lead:${ready.status.leader ?? '-'} Commit:${ready.status.commitIndex}`,
    )
  }
  const early = ready.messagesBeforePersist ?? []
  if (early.length > 0) {
    lines.push('MessagesBeforePersist:')
    for (const outbound of early) lines.push(formatMessage(id, outbound))
  }
  if (ready.snapshot !== null) lines.push(formatSnapshot(ready.snapshot))
  if (ready.hardState !== null) lines.push(formatHardState(ready.hardState))
  if (ready.entries.length > 0) {
    lines.push('Entries:')
    for (const entry of ready.entries) lines.push(formatEntry(entry))
  }
  if (ready.messages.length > 0) {
    lines.push('Messages:')
    for (const outbound of ready.messages) lines.push(formatMessage(id, outbound))
  }
  if (ready.committed.length > 0) {
    lines.push('CommittedEntries:')
    for (const entry of ready.committed) lines.push(formatEntry(entry))
  }
  if (ready.reads.length > 0) {
    lines.push(`ReadStates: ${ready.reads.map((read) => `${read.context}@${read.index}`).join(' ')}`)
  }
  if (ready.dropped.length > 0) lines.push(`Dropped: ${ready.dropped.join(' ')}`)
  return lines
}
