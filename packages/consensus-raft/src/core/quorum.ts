import type { ReplicaId } from '@socketcloud/core'

/**
 * Quorum arithmetic, after etcd's `quorum` package. A majority configuration is a set of voters; a
 * joint configuration is two of them during a transition, and needs a majority of each.
 *
 * `committedIndex` answers "which index is durable on a majority?" from the highest index each voter
 * is known to have (missing = 0). An empty configuration commits everything (+Infinity), so that a
 * joint configuration with an empty half behaves exactly like its other half.
 */
export type VoteResult = 'won' | 'lost' | 'pending'

export function majorityCommittedIndex(
  voters: readonly ReplicaId[],
  acked: (id: ReplicaId) => number | undefined,
): number {
  const count = voters.length
  if (count === 0) return Number.POSITIVE_INFINITY
  const indexes: number[] = []
  // Insertion sort, descending: voter sets are a handful of members and this runs on every
  // acknowledgement, where Array.prototype.sort's comparator calls and scratch space showed up.
  for (let position = 0; position < count; position++) {
    const index = acked(voters[position]!) ?? 0
    let slot = position
    while (slot > 0 && indexes[slot - 1]! < index) {
      indexes[slot] = indexes[slot - 1]!
      slot--
    }
    indexes[slot] = index
  }
  // The (quorum)-th largest value is durable on a majority.
  return indexes[Math.floor(count / 2)]!
}

export function jointCommittedIndex(
  incoming: readonly ReplicaId[],
  outgoing: readonly ReplicaId[] | null,
  acked: (id: ReplicaId) => number | undefined,
): number {
  const first = majorityCommittedIndex(incoming, acked)
  if (outgoing === null) return first
  return Math.min(first, majorityCommittedIndex(outgoing, acked))
}

export function majorityVoteResult(
  voters: readonly ReplicaId[],
  votes: (id: ReplicaId) => boolean | undefined,
): VoteResult {
  if (voters.length === 0) return 'won'
  let granted = 0
  let missing = 0
  for (const voter of voters) {
    const vote = votes(voter)
    if (vote === undefined) missing++
    else if (vote) granted++
  }
  const quorum = Math.floor(voters.length / 2) + 1
  if (granted >= quorum) return 'won'
  if (granted + missing >= quorum) return 'pending'
  return 'lost'
}

export function jointVoteResult(
  incoming: readonly ReplicaId[],
  outgoing: readonly ReplicaId[] | null,
  votes: (id: ReplicaId) => boolean | undefined,
): VoteResult {
  const first = majorityVoteResult(incoming, votes)
  if (outgoing === null) return first
  const second = majorityVoteResult(outgoing, votes)
  if (first === second) return first
  if (first === 'lost' || second === 'lost') return 'lost'
  return 'pending'
}
