import {
  DecodeError,
  expectArray,
  expectRecord,
  expectString,
  utf8Decode,
  utf8Encode,
  type ReplicaId,
} from '@socketcloud/core'

/** Who votes and who only receives the log. A replica is in at most one of the two lists. */
export interface Membership {
  readonly voters: readonly ReplicaId[]
  readonly learners: readonly ReplicaId[]
}

/**
 * One membership change. The engine changes one voter at a time (Ongaro's thesis §4.1), which keeps
 * every two consecutive configurations' majorities overlapping without a joint phase:
 * - `add-learner`: a replica starts receiving the log without voting (no effect on any majority);
 * - `promote-learner`: a caught-up learner becomes a voter;
 * - `remove`: a voter or learner leaves (the leader may remove itself).
 */
export type MembershipChange =
  | { readonly type: 'add-learner'; readonly id: ReplicaId }
  | { readonly type: 'promote-learner'; readonly id: ReplicaId }
  | { readonly type: 'remove'; readonly id: ReplicaId }

export const replicaIdLengthMax = 256
export const membershipSizeMax = 1024

export function isMember(membership: Membership, id: ReplicaId): boolean {
  return membership.voters.includes(id) || membership.learners.includes(id)
}

/** The configuration after `change`, or a reason why it is not a valid single-server change. */
export function applyMembershipChange(
  membership: Membership,
  change: MembershipChange,
): { ok: true; membership: Membership } | { ok: false; detail: string } {
  const { id } = change
  switch (change.type) {
    case 'add-learner':
      if (isMember(membership, id)) return { ok: false, detail: `${id} is already a member` }
      return { ok: true, membership: { voters: membership.voters, learners: [...membership.learners, id] } }
    case 'promote-learner':
      if (!membership.learners.includes(id)) return { ok: false, detail: `${id} is not a learner` }
      return {
        ok: true,
        membership: {
          voters: [...membership.voters, id],
          learners: membership.learners.filter((learner) => learner !== id),
        },
      }
    case 'remove':
      if (!isMember(membership, id)) return { ok: false, detail: `${id} is not a member` }
      if (membership.voters.length === 1 && membership.voters[0] === id) {
        return { ok: false, detail: 'cannot remove the last voter' }
      }
      return {
        ok: true,
        membership: {
          voters: membership.voters.filter((voter) => voter !== id),
          learners: membership.learners.filter((learner) => learner !== id),
        },
      }
  }
}

/** Encoding used in `config` log entries and `SnapshotMeta.membership`: UTF-8 JSON `{voters, learners}`. */
export function encodeMembership(membership: Membership): Uint8Array {
  return utf8Encode(JSON.stringify({ voters: membership.voters, learners: membership.learners }))
}

/** Validates untrusted bytes; throws DecodeError. */
export function decodeMembership(bytes: Uint8Array, path = 'membership'): Membership {
  let parsed: unknown
  try {
    parsed = JSON.parse(utf8Decode(bytes))
  } catch (error) {
    throw new DecodeError('MALFORMED', `${path}: not UTF-8 JSON`, { field: path }, { cause: error })
  }
  const record = expectRecord(parsed, path)
  const voters = expectArray(record.voters, `${path}.voters`, membershipSizeMax).map((value, position) =>
    expectString(value, `${path}.voters[${position}]`, replicaIdLengthMax),
  )
  const learners = expectArray(record.learners, `${path}.learners`, membershipSizeMax).map(
    (value, position) => expectString(value, `${path}.learners[${position}]`, replicaIdLengthMax),
  )
  const seen = new Set<string>()
  for (const id of [...voters, ...learners]) {
    if (id.length === 0) throw new DecodeError('INVALID_FIELD', `${path}: empty replica id`, { field: path })
    if (seen.has(id)) throw new DecodeError('INVALID_FIELD', `${path}: ${id} listed twice`, { field: path })
    seen.add(id)
  }
  return { voters, learners }
}
