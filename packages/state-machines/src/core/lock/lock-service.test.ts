/**
 * Goal: the lock service grants one holder at a time, hands out strictly increasing fencing tokens,
 * expires leases only by the leader-proposed time in the log (ApplyContext.timestampMs, never moving
 * backwards), refuses stale holders, and passes the StateMachine compliance suite.
 * Method: apply commands with explicit timestamps and check grants, tokens and refusals.
 */
import { describe, expect, it } from 'vitest'
import { runStateMachineTests } from '@socketcloud/sim'
import { lockService } from '@socketcloud/state-machines'

const type = lockService()

function client() {
  const machine = type.create()
  let index = 0
  const at = (timestampMs: number) => ({ index: ++index, term: 1, timestampMs })
  return {
    machine,
    acquire: (name: string, owner: string, leaseMs: number, now: number) =>
      type.decodeCommandResult(
        'acquire',
        machine.apply(type.encodeCommand('acquire', { name, owner, leaseMs }), at(now)),
      ),
    renew: (name: string, owner: string, fencingToken: number, leaseMs: number, now: number) =>
      type.decodeCommandResult(
        'renew',
        machine.apply(type.encodeCommand('renew', { name, owner, fencingToken, leaseMs }), at(now)),
      ),
    release: (name: string, owner: string, fencingToken: number, now: number) =>
      type.decodeCommandResult(
        'release',
        machine.apply(type.encodeCommand('release', { name, owner, fencingToken }), at(now)),
      ),
    get: (name: string) => type.decodeQueryResult('get', machine.query(type.encodeQuery('get', { name }))),
  }
}

describe('lockService', () => {
  it('grants one holder at a time and re-grants after the lease expires with a larger token', () => {
    const locks = client()
    expect(locks.acquire('db', 'alice', 1000, 10_000)).toEqual({
      ok: true,
      value: { granted: true, owner: 'alice', fencingToken: 1, expiresAtMs: 11_000 },
    })
    expect(locks.acquire('db', 'bob', 1000, 10_500)).toEqual({
      ok: true,
      value: { granted: false, holder: 'alice', expiresAtMs: 11_000 },
    })
    expect(locks.acquire('db', 'bob', 1000, 10_999)).toMatchObject({ value: { granted: false } })
    expect(locks.acquire('db', 'bob', 1000, 11_000)).toEqual({
      ok: true,
      value: { granted: true, owner: 'bob', fencingToken: 2, expiresAtMs: 12_000 },
    })
    expect(locks.get('db')).toEqual({
      ok: true,
      value: { lock: { owner: 'bob', fencingToken: 2, expiresAtMs: 12_000 }, clockMs: 11_000 },
    })
  })

  it('a holder’s repeated acquire renews without a new token; renew extends; stale holders are refused', () => {
    const locks = client()
    locks.acquire('job', 'alice', 1000, 0)
    expect(locks.acquire('job', 'alice', 5000, 500)).toMatchObject({
      value: { granted: true, fencingToken: 1, expiresAtMs: 5500 },
    })
    expect(locks.renew('job', 'alice', 1, 1000, 5000)).toEqual({
      ok: true,
      value: { owner: 'alice', fencingToken: 1, expiresAtMs: 6000 },
    })
    expect(locks.renew('job', 'alice', 1, 1000, 6000)).toMatchObject({ ok: false, code: 'LEASE_EXPIRED' })
    locks.acquire('job', 'bob', 1000, 6001)
    expect(locks.release('job', 'alice', 1, 6002)).toMatchObject({ ok: false, code: 'NOT_HOLDER' })
    expect(locks.renew('job', 'bob', 1, 1000, 6003)).toMatchObject({ ok: false, code: 'NOT_HOLDER' })
    expect(locks.release('job', 'bob', 2, 6004)).toEqual({ ok: true, value: { released: true } })
    expect(locks.get('job')).toMatchObject({ value: { lock: null } })
    expect(locks.acquire('job', 'carol', 10, 6005)).toMatchObject({ value: { fencingToken: 3 } })
  })

  it('decides expiry by the largest leader timestamp so far: a lagging leader clock cannot revive a lease', () => {
    const locks = client()
    locks.acquire('a', 'alice', 1000, 50_000)
    // A later entry proposed by a leader whose clock is far behind still sees time 50,000.
    expect(locks.acquire('b', 'bob', 1000, 1)).toMatchObject({ value: { expiresAtMs: 51_000 } })
    locks.acquire('c', 'carol', 10, 60_000)
    expect(locks.renew('a', 'alice', 1, 1000, 2)).toMatchObject({ ok: false, code: 'LEASE_EXPIRED' })
  })

  it('fencing tokens strictly increase across all locks and grants', () => {
    const locks = client()
    const tokens: number[] = []
    for (let round = 0; round < 20; round++) {
      const result = locks.acquire(`lock-${round % 3}`, `owner-${round}`, 10, round * 100)
      if (result.ok && result.value.granted) tokens.push(result.value.fencingToken)
    }
    expect(tokens).toHaveLength(20)
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!)
  })

  it('refuses zero or excessive leases and too many live locks, sweeping expired ones first', () => {
    const locks = client()
    expect(locks.acquire('x', 'o', 0, 0)).toMatchObject({ ok: false, code: 'INVALID_COMMAND' })
    expect(locks.acquire('x', 'o', 25 * 60 * 60 * 1000, 0)).toMatchObject({
      ok: false,
      code: 'INVALID_COMMAND',
    })
    const small = lockService({ locksMax: 2 })
    const machine = small.create()
    const acquire = (name: string, now: number) =>
      small.decodeCommandResult(
        'acquire',
        machine.apply(small.encodeCommand('acquire', { name, owner: 'o', leaseMs: 100 }), {
          index: 1,
          term: 1,
          timestampMs: now,
        }),
      )
    acquire('a', 0)
    acquire('b', 0)
    expect(acquire('c', 50)).toMatchObject({ ok: false, code: 'LIMIT_EXCEEDED' })
    expect(acquire('c', 100)).toMatchObject({ ok: true, value: { granted: true } })
  })
})

const workload: Uint8Array[] = []
for (let i = 0; i < 30; i++) {
  const name = `lock-${i % 3}`
  const owner = `owner-${i % 4}`
  if (i % 5 === 3)
    workload.push(type.encodeCommand('release', { name, owner, fencingToken: Math.floor(i / 2) }))
  else if (i % 5 === 4)
    workload.push(type.encodeCommand('renew', { name, owner, fencingToken: Math.floor(i / 3), leaseMs: 500 }))
  else workload.push(type.encodeCommand('acquire', { name, owner, leaseMs: 300 + i * 50 }))
}
runStateMachineTests(
  () => ({
    impl: {
      create: () => type.create(),
      commands: workload,
      queries: ['lock-0', 'lock-1', 'lock-2'].map((name) => type.encodeQuery('get', { name })),
    },
    teardown: () => undefined,
  }),
  'lockService: StateMachine compliance',
)
