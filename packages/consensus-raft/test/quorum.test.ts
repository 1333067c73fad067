/**
 * Goal: our quorum arithmetic agrees with etcd's on every recorded case. Method: run all 127
 * datadriven cases (majority and joint; committed index and vote outcome) from etcd-io/raft.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  jointCommittedIndex,
  jointVoteResult,
  majorityCommittedIndex,
  majorityVoteResult,
} from '../src/index'

interface CommittedCase {
  kind: 'committed'
  file: string
  cfg: number[]
  cfgj: number[] | null
  acked: Record<string, number | null>
  expect: number | 'max'
}
interface VoteCase {
  kind: 'vote'
  file: string
  cfg: number[]
  cfgj: number[] | null
  votes: Record<string, boolean | null>
  expect: 'VoteWon' | 'VoteLost' | 'VotePending'
}
type QuorumCase = (CommittedCase | VoteCase) & { comment?: string }

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/raft-quorum-cases.json', import.meta.url), 'utf8'),
) as {
  _about: { count: number }
  cases: QuorumCase[]
}

const ids = (values: number[]): string[] => values.map(String)
const voteNames = { VoteWon: 'won', VoteLost: 'lost', VotePending: 'pending' } as const

describe('quorum arithmetic against etcd-io/raft datadriven cases', () => {
  it('has every case', () => {
    expect(fixture.cases).toHaveLength(fixture._about.count)
    expect(fixture.cases.filter((entry) => entry.kind === 'committed').length).toBeGreaterThan(0)
    expect(fixture.cases.filter((entry) => entry.kind === 'vote').length).toBeGreaterThan(0)
  })

  fixture.cases.forEach((entry, position) => {
    it(`${entry.file} #${position} ${entry.kind}: ${JSON.stringify(entry.cfg)} ${JSON.stringify(entry.cfgj)}`, () => {
      const incoming = ids(entry.cfg)
      const outgoing = entry.cfgj === null ? null : ids(entry.cfgj)
      if (entry.kind === 'committed') {
        const acked = (id: string): number | undefined => entry.acked[id] ?? undefined
        const expected = entry.expect === 'max' ? Number.POSITIVE_INFINITY : entry.expect
        expect(jointCommittedIndex(incoming, outgoing, acked)).toBe(expected)
        if (outgoing === null) expect(majorityCommittedIndex(incoming, acked)).toBe(expected)
      } else {
        const votes = (id: string): boolean | undefined => entry.votes[id] ?? undefined
        const expected = voteNames[entry.expect]
        expect(jointVoteResult(incoming, outgoing, votes)).toBe(expected)
        if (outgoing === null) expect(majorityVoteResult(incoming, votes)).toBe(expected)
      }
    })
  })
})
