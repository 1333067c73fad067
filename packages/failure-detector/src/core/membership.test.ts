/**
 * Goal: the membership core keeps SWIM's rules — answers pings, refuses strangers, lets a suspected
 * member refute, declares an unrefuted suspect dead, orders conflicting facts by incarnation — and
 * validates its options. Method: call one or two cores directly with hand-made messages and times.
 */
import { ConfigError, NodeId, SeededRandom } from '@socketcloud/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Membership, overrides } from './membership'
import type { MembershipOutput } from './membership'
import { MEMBER_STATUSES } from './messages'
import type { MemberUpdate } from './messages'

const ids = [1, 2, 3].map((n) => NodeId.fromHex(n.toString(16).padStart(2, '0').repeat(32)))
const [a, b, c] = ids as [NodeId, NodeId, NodeId]
const stranger = NodeId.fromHex('ee'.repeat(32))

function core(localId: NodeId, init = {}): Membership {
  return new Membership({ localId, random: new SeededRandom(1), members: ids }, init)
}

function update(member: NodeId, status: MemberUpdate['status'], incarnation: number): MemberUpdate {
  return { member, status, incarnation, upNumber: 0 }
}

/** Gossip as [member, status, incarnation] triples, for comparisons that ignore upNumber. */
function facts(output: MembershipOutput): string[] {
  return output.messages.flatMap((m) =>
    m.message.gossip.map((u) => `${u.member.hex}:${u.status}:${u.incarnation}`),
  )
}

function pingsIn(output: MembershipOutput) {
  return output.messages.filter((m) => m.message.type === 'ping')
}

describe('Membership', () => {
  it('pings every monitored peer each heartbeat interval and answers a ping with an ack of the same seq', () => {
    const node = core(a)
    const first = node.tick(0)
    expect(
      pingsIn(first)
        .map((m) => m.to.hex)
        .sort(),
    ).toEqual([b.hex, c.hex])
    expect(pingsIn(node.tick(50))).toEqual([])
    expect(pingsIn(node.tick(100))).toHaveLength(2)
    const reply = node.step(b, { type: 'ping', seq: 42, gossip: [] }, 120)
    expect(reply.messages).toEqual([{ to: b, message: { type: 'ack', seq: 42, gossip: [] } }])
  })

  it('refuses and counts messages from unknown senders, and keeps serving members', () => {
    const node = core(a)
    node.tick(0)
    const refused = node.step(stranger, { type: 'ping', seq: 1, gossip: [update(stranger, 'alive', 0)] }, 10)
    expect(refused.messages).toEqual([])
    expect(refused.events).toEqual([{ type: 'refused', from: stranger, reason: 'UNKNOWN_SENDER' }])
    expect(node.stats.refused.UNKNOWN_SENDER).toBe(1)
    expect(node.member(stranger), 'gossip from a stranger is not applied').toBeUndefined()
    expect(node.step(b, { type: 'ping', seq: 2, gossip: [] }, 11).messages).toHaveLength(1)
  })

  it('declares a silent peer failed, suspects it, and declares it dead after the suspicion timeout', () => {
    const node = core(a, { suspicionTimeoutMs: 1_000 })
    const events: MembershipOutput['events'] = []
    for (let t = 0; t <= 5_000; t += 10) {
      const output = node.tick(t)
      events.push(...output.events)
      // b answers every ping, c never does.
      for (const { to, message } of output.messages) {
        if (to.equals(b))
          events.push(...node.step(b, { type: 'ack', seq: message.seq, gossip: [] }, t + 1).events)
      }
    }
    const aboutC = events.filter((e) =>
      e.type === 'level' ? e.peer.equals(c) : e.type === 'status' && e.member.equals(c),
    )
    expect(
      aboutC.map((e) => (e.type === 'level' ? `level:${e.to}` : `status:${(e as { to: string }).to}`)),
    ).toEqual(['level:suspect', 'level:failed', 'status:suspect', 'status:dead'])
    expect(node.member(b)?.status).toBe('alive')
    expect(node.member(c)?.status).toBe('dead')
  })

  it('refutes a suspicion about itself by raising its incarnation and gossiping it', () => {
    const node = core(b)
    node.tick(0)
    node.step(a, { type: 'ping', seq: 1, gossip: [update(b, 'suspect', 0)] }, 10)
    expect(node.incarnation).toBe(1)
    expect(node.stats.refutations).toBe(1)
    const next = node.step(a, { type: 'ping', seq: 2, gossip: [] }, 20)
    expect(facts(next)).toContain(`${b.hex}:alive:1`)
  })

  it('a suspect member that refutes is alive again in the suspecting view', () => {
    const node = core(a)
    node.tick(0)
    node.step(b, { type: 'ping', seq: 1, gossip: [update(c, 'suspect', 0)] }, 10)
    expect(node.member(c)?.status).toBe('suspect')
    node.step(b, { type: 'ping', seq: 2, gossip: [update(c, 'alive', 1)] }, 20)
    expect(node.member(c)).toMatchObject({ status: 'alive', incarnation: 1 })
  })

  it('tells the sender of stale bad news its current incarnation without raising it again', () => {
    const node = core(b)
    node.tick(0)
    node.step(a, { type: 'ping', seq: 1, gossip: [update(b, 'suspect', 0)] }, 10)
    node.step(a, { type: 'ping', seq: 2, gossip: [] }, 11)
    node.step(a, { type: 'ping', seq: 3, gossip: [] }, 12) // drain
    const reply = node.step(c, { type: 'ping', seq: 4, gossip: [update(b, 'dead', 0)] }, 20)
    expect(node.incarnation).toBe(1)
    expect(facts(reply)).toContain(`${b.hex}:alive:1`)
  })

  it('counts only the first ack of each ping as a heartbeat', () => {
    const node = core(a, { heartbeatIntervalMs: 100 })
    let seqToB = 0
    for (let t = 0; t <= 1_000; t += 100) {
      for (const { to, message } of node.tick(t).messages) if (to.equals(b)) seqToB = message.seq
      node.step(b, { type: 'ack', seq: seqToB, gossip: [] }, t + 1)
    }
    const phiBefore = node.phi(b, 1_300)!
    // Duplicates of the last ack (a duplicating network) must not look like fresh heartbeats.
    for (let t = 1_100; t <= 1_300; t += 10) node.step(b, { type: 'ack', seq: seqToB, gossip: [] }, t)
    expect(node.phi(b, 1_300)).toBeCloseTo(phiBefore, 9)
  })

  it('relays a ping-req: pings the target and answers the requester with an indirect-ack', () => {
    const relay = core(b, { relayedPingsMax: 1 })
    relay.tick(0)
    const forwarded = relay.step(a, { type: 'ping-req', seq: 77, target: c, gossip: [] }, 10)
    expect(forwarded.messages.map((m) => [m.to.hex, m.message.type])).toEqual([[c.hex, 'ping']])
    // A second request while one relay is pending exceeds relayedPingsMax and is dropped.
    expect(relay.step(a, { type: 'ping-req', seq: 78, target: c, gossip: [] }, 11).messages).toEqual([])
    expect(relay.stats.indirectProbesDropped).toBe(1)
    const answer = relay.step(c, { type: 'ack', seq: forwarded.messages[0]!.message.seq, gossip: [] }, 12)
    expect(answer.messages.map((m) => [m.to.hex, m.message.type, m.message.seq])).toEqual([
      [a.hex, 'indirect-ack', 77],
    ])
  })

  it('does not fail its peers because it was itself paused', () => {
    const node = core(a)
    const answer = (output: MembershipOutput, at: number) => {
      for (const { to, message } of output.messages) {
        if (message.type === 'ping') node.step(to, { type: 'ack', seq: message.seq, gossip: [] }, at + 1)
      }
    }
    for (let t = 0; t <= 3_000; t += 10) answer(node.tick(t), t)
    // The process stalls for 2 s: no ticks, no messages. Then it resumes and its peers answer again.
    const events: MembershipOutput['events'] = []
    for (let t = 5_000; t <= 6_000; t += 10) {
      const output = node.tick(t)
      events.push(...output.events)
      answer(output, t)
    }
    expect(node.stats.localPauses).toBe(1)
    expect(events.filter((e) => e.type === 'level' || e.type === 'status')).toEqual([])
    expect(node.level(b)).toBe('healthy')
  })

  it('refuses messages from members that left, and stops pinging them', () => {
    const node = core(a)
    node.tick(0)
    node.step(b, { type: 'ping', seq: 1, gossip: [update(c, 'left', 1)] }, 10)
    expect(node.member(c)?.status).toBe('left')
    const refused = node.step(c, { type: 'ping', seq: 2, gossip: [] }, 20)
    expect(refused.events).toEqual([{ type: 'refused', from: c, reason: 'MEMBER_LEFT' }])
    expect(pingsIn(node.tick(100)).map((m) => m.to.hex)).toEqual([b.hex])
  })

  it('refuses gossip about new members beyond membersMax', () => {
    const node = new Membership({ localId: a, random: new SeededRandom(1), members: ids }, { membersMax: 3 })
    node.step(b, { type: 'ping', seq: 1, gossip: [update(stranger, 'alive', 0)] }, 0)
    expect(node.member(stranger)).toBeUndefined()
    expect(node.stats.refused.MEMBERS_FULL).toBe(1)
  })

  it('leaves with a higher incarnation and announces it on a bounded last round', () => {
    const node = core(a)
    node.tick(0)
    const output = node.leave()
    expect(output.messages.length).toBeLessThanOrEqual(node.monitoredPeersMax + 1)
    expect(facts(output)).toContain(`${a.hex}:left:1`)
    expect(node.tick(1_000).messages).toEqual([])
  })

  it('validates its options', () => {
    const make = (init: object) => () => core(a, init)
    expect(make({ heartbeatIntervalMs: 0 })).toThrow(ConfigError)
    expect(make({ monitoredPeersMax: 0 })).toThrow(/monitoredPeersMax/)
    expect(make({ piggybackUpdatesMax: 10_000 })).toThrow(/piggybackUpdatesMax/)
    expect(make({ gossipRetransmitMultiplier: 0 })).toThrow(/gossipRetransmitMultiplier/)
    expect(make({ indirectProbes: -1 })).toThrow(/indirectProbes/)
    expect(make({ relayedPingsMax: 0 })).toThrow(/relayedPingsMax/)
    expect(make({ localPauseMs: 0 })).toThrow(/localPauseMs/)
    expect(make({ detector: { threshold: -1 } })).toThrow(/threshold/)
    expect(make({ splitBrain: { strategy: { kind: 'static-quorum', quorumSize: 1 } } })).toThrow(/quorumSize/)
    expect(() => new Membership({ localId: a, random: new SeededRandom(1), members: [a, a] })).toThrow(
      /twice/,
    )
  })
})

describe('convergence', () => {
  it('any order of the same gossip leaves every view with the same fact', () => {
    const updateArbitrary = fc.record({
      status: fc.constantFrom(...MEMBER_STATUSES),
      incarnation: fc.nat({ max: 4 }),
    })
    fc.assert(
      fc.property(
        fc.array(updateArbitrary, { minLength: 1, maxLength: 12 }),
        fc.func(fc.integer()),
        (facts, shuffleKey) => {
          const shuffled = facts
            .map((fact, index) => ({ fact, key: shuffleKey(index) }))
            .sort((x, y) => x.key - y.key)
            .map(({ fact }) => fact)
          const viewAfter = (order: typeof facts) => {
            const node = core(a)
            for (const fact of order) {
              node.step(b, { type: 'ping', seq: 1, gossip: [update(c, fact.status, fact.incarnation)] }, 0)
            }
            const view = node.member(c)!
            return `${view.status}:${view.incarnation}`
          }
          expect(viewAfter(shuffled)).toBe(viewAfter(facts))
        },
      ),
    )
  })
})

describe('SWIM precedence (overrides)', () => {
  const known = (status: MemberUpdate['status'], incarnation: number) => ({ status, incarnation })
  it.each([
    ['alive', 1, 'alive', 0, true],
    ['alive', 0, 'alive', 0, false],
    ['alive', 1, 'suspect', 0, true],
    ['alive', 0, 'suspect', 0, false],
    ['alive', 2, 'dead', 1, true],
    ['suspect', 0, 'alive', 0, true],
    ['suspect', 0, 'alive', 1, false],
    ['suspect', 0, 'suspect', 0, false],
    ['suspect', 1, 'suspect', 0, true],
    ['suspect', 1, 'dead', 1, false],
    ['dead', 0, 'alive', 0, true],
    ['dead', 0, 'suspect', 0, true],
    ['dead', 0, 'alive', 1, false],
    ['dead', 1, 'dead', 1, false],
    ['left', 0, 'alive', 0, true],
    ['left', 1, 'left', 0, true],
    ['left', 0, 'dead', 0, true],
    ['dead', 0, 'left', 0, false],
    ['alive', 2, 'left', 1, true],
  ] as const)('%s(%i) over %s(%i): %s', (status, incarnation, knownStatus, knownIncarnation, expected) => {
    expect(
      overrides(update(a, status, incarnation), {
        ...known(knownStatus, knownIncarnation),
        id: a,
        upNumber: 0,
      }),
    ).toBe(expected)
  })
})
