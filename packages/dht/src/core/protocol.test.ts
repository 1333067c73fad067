// Goal: the protocol core refuses and counts every kind of bad input without throwing, and its
// routing table only ever learns peers from valid requests and from answers to its own requests.
// Method: two or three DhtProtocol instances wired by hand (their outputs fed to each other), time
// passed in explicitly; hostile messages are crafted with the same Codec a peer would use.
import { Codec, LimitExceededError, NodeId, SeededRandom } from '@socketcloud/core'
import { describe, expect, it } from 'vitest'
import { TestEd25519Signer, TestEd25519Verifier } from '../test/ed25519'
import { commonPrefixLength } from './distance'
import { decodeDhtMessage, encodeDhtMessage } from './messages'
import { NodeIdCache } from './node-id-cache'
import { resolveDhtOptions } from './options'
import type { DhtOptions } from './options'
import { DhtProtocol } from './protocol'
import type { DhtTime } from './protocol'
import { signRecord } from './record'
import type { DhtRecord } from './record'

const codec = new Codec({ envelopeBytesMax: 60_000 })
const verifier = new TestEd25519Verifier()
const WALL = 1_700_000_000_000
const at = (nowMs: number): DhtTime => ({ nowMs, wallMs: WALL + nowMs })

function idOf(n: number): NodeId {
  const bytes = new Uint8Array(32)
  bytes[0] = n
  bytes[31] = n
  return NodeId.fromBytes(bytes)
}

function node(n: number, options: DhtOptions = {}): DhtProtocol {
  return new DhtProtocol({
    localId: idOf(n),
    addresses: [`mem://n${n}`],
    options: resolveDhtOptions(options),
    codec,
    random: new SeededRandom(n),
    verifier,
    signer: new TestEd25519Signer(),
    time: at(0),
  })
}

/** Delivers everything `from` wants to send to `to` (and only that); returns how many messages. */
function deliver(from: DhtProtocol, to: DhtProtocol, time: DhtTime): number {
  const output = from.takeOutput()
  let count = 0
  for (const send of output.sends) {
    if (!send.to.id.equals(to.localId)) continue
    to.receive(from.localId, send.bytes, time)
    count++
  }
  return count
}

function record(signer: TestEd25519Signer, overrides: Partial<DhtRecord> = {}): DhtRecord {
  const key = new Uint8Array(32).fill(7)
  return {
    ...signRecord(codec, signer, {
      key,
      value: new Uint8Array([1, 2, 3]),
      sequence: 5,
      expiresAtMs: WALL + 60_000,
    }),
    ...overrides,
  }
}

describe('DhtProtocol boundary', () => {
  it('refuses malformed bytes, unknown types and a sender that is not the peer, and keeps serving', () => {
    const a = node(1)
    const b = node(2)
    a.receive(b.localId, new Uint8Array([0xc1, 0xff, 0x00]), at(1))
    a.receive(
      b.localId,
      codec.encode({ type: 'dht.bogus', sender: b.localId, payload: { requestId: 1 } }),
      at(1),
    )
    a.receive(b.localId, codec.encode({ type: 'raft.append', sender: b.localId, payload: {} }), at(1))
    a.receive(
      b.localId,
      codec.encode({
        type: 'dht.find-node',
        sender: b.localId,
        payload: { requestId: 1, addresses: [], target: new Uint8Array(3) },
      }),
      at(1),
    )
    a.receive(
      b.localId,
      encodeDhtMessage(codec, idOf(9), { type: 'ping', requestId: 1, addresses: ['mem://n9'] }),
      at(1),
    )
    expect(a.stats.refused).toMatchObject({ MALFORMED: 2, UNKNOWN_TYPE: 2, SENDER_MISMATCH: 1 })
    expect(a.table.size).toBe(0)
    expect(a.takeOutput().sends).toEqual([])
    // Still serving: a valid ping is answered and its sender learned.
    b.addContact({ id: a.localId, addresses: ['mem://n1'] }, at(2))
    b.findNode(idOf(1).bytes, at(2))
    expect(deliver(b, a, at(3))).toBe(1)
    expect(a.table.has(b.localId)).toBe(true)
  })

  it('refuses replies nobody asked for, from the wrong peer or of the wrong type; the table is untouched', () => {
    const a = node(1)
    const b = node(2)
    const c = node(3)
    const poison = [4, 5, 6].map((n) => ({ id: idOf(n), addresses: [`mem://evil${n}`] }))
    a.receive(
      b.localId,
      encodeDhtMessage(codec, b.localId, { type: 'nodes', requestId: 77, contacts: poison }),
      at(1),
    )
    expect(a.stats.refused.UNSOLICITED).toBe(1)
    expect(a.table.size).toBe(0)

    a.addContact({ id: b.localId, addresses: ['mem://n2'] }, at(1))
    a.findNode(idOf(9).bytes, at(1))
    const [request] = a.takeOutput().sends
    expect(request?.requestId).toBeDefined()
    const requestId = request!.requestId!
    // Right id, wrong peer.
    a.receive(
      c.localId,
      encodeDhtMessage(codec, c.localId, { type: 'nodes', requestId, contacts: poison }),
      at(2),
    )
    // Right peer, wrong type.
    a.receive(b.localId, encodeDhtMessage(codec, b.localId, { type: 'pong', requestId }), at(2))
    expect(a.stats.refused.UNSOLICITED).toBe(3)
    expect(a.table.contacts().map((contact) => contact.id.hex)).toEqual([b.localId.hex])
    // The genuine answer is still accepted afterwards (and only once).
    b.receive(a.localId, request!.bytes, at(2))
    expect(deliver(b, a, at(3))).toBe(1)
    expect(a.stats.repliesMatched).toBe(1)
  })

  it('refuses records with bad signatures, tampered fields, oversized values or an expiry past the limit', () => {
    const a = node(1, { recordValueBytesMax: 16 })
    const owner = new TestEd25519Signer()
    const store = (bad: DhtRecord, requestId: number): void =>
      a.receive(
        idOf(2),
        encodeDhtMessage(codec, idOf(2), { type: 'store', requestId, addresses: ['mem://n2'], record: bad }),
        at(1),
      )
    const good = record(owner)
    store({ ...good, value: new Uint8Array([9]) }, 1)
    store({ ...good, sequence: 6 }, 2)
    store({ ...good, key: new Uint8Array(32).fill(8) }, 3)
    store({ ...good, signature: new Uint8Array(64) }, 4)
    store(record(owner, {}), 5)
    expect(a.stats.refused.BAD_SIGNATURE).toBe(4)
    const big = signRecord(codec, owner, {
      key: good.key,
      value: new Uint8Array(17),
      sequence: 9,
      expiresAtMs: WALL + 1000,
    })
    store(big, 6)
    expect(a.stats.refused.OVERSIZED).toBe(1)
    const forever = signRecord(codec, owner, {
      key: good.key,
      value: new Uint8Array(1),
      sequence: 9,
      expiresAtMs: WALL + 10 ** 12,
    })
    store(forever, 7)
    expect(a.stats.refused.BAD_RECORD).toBe(1)
    const replies = a.takeOutput().sends.length
    expect(replies).toBe(6) // every store but the undecodable one gets a 'stored' answer
    expect(a.records.get(good.key, WALL + 2)?.sequence).toBe(5)
    expect(() => a.put({ key: good.key, value: new Uint8Array(17), ttlMs: 1000 }, at(2))).toThrow(
      LimitExceededError,
    )
  })

  it('keeps the newest version from the owner: stale and foreign versions never win', () => {
    const a = node(1)
    const owner = new TestEd25519Signer()
    const other = new TestEd25519Signer()
    let requestId = 0
    const store = (r: DhtRecord): void =>
      a.receive(
        idOf(2),
        encodeDhtMessage(codec, idOf(2), { type: 'store', requestId: ++requestId, addresses: [], record: r }),
        at(1),
      )
    const sign = (signer: TestEd25519Signer, sequence: number, value: number): DhtRecord =>
      signRecord(codec, signer, {
        key: new Uint8Array(32).fill(7),
        value: new Uint8Array([value]),
        sequence,
        expiresAtMs: WALL + 60_000,
      })
    store(sign(owner, 5, 1))
    store(sign(owner, 4, 2))
    store(sign(owner, 5, 3)) // same sequence, different content: the first one stays
    store(sign(other, 9, 4))
    expect(a.stats.refused).toMatchObject({ STALE: 2, NOT_OWNER: 1 })
    expect(a.records.get(new Uint8Array(32).fill(7), WALL + 2)?.value).toEqual(new Uint8Array([1]))
    store(sign(owner, 6, 5))
    expect(a.records.get(new Uint8Array(32).fill(7), WALL + 2)?.value).toEqual(new Uint8Array([5]))
  })

  it('drops requests beyond the per-peer rate, counts them, and serves the peer again later', () => {
    const a = node(1, { requestsPerSecondPerPeerMax: 10 })
    const flood = (count: number, time: DhtTime): number => {
      for (let i = 0; i < count; i++) {
        a.receive(
          idOf(2),
          encodeDhtMessage(codec, idOf(2), { type: 'ping', requestId: i, addresses: ['mem://n2'] }),
          time,
        )
      }
      return a.takeOutput().sends.length
    }
    expect(flood(100, at(0))).toBe(10)
    expect(a.stats.refused.RATE_LIMITED).toBe(90)
    expect(flood(1, at(200))).toBe(1) // 200 ms refilled two tokens
    // Other peers are unaffected.
    a.receive(
      idOf(3),
      encodeDhtMessage(codec, idOf(3), { type: 'ping', requestId: 1, addresses: [] }),
      at(200),
    )
    expect(a.takeOutput().sends.length).toBe(1)
  })

  it('times requests out, fails the lookup over, and drops a contact that keeps failing', () => {
    const a = node(1, { requestTimeoutMs: 100, contactFailuresMax: 2 })
    const silent = { id: idOf(2), addresses: ['mem://n2'] }
    a.addContact(silent, at(0))
    for (let round = 0; round < 2; round++) {
      const start = round * 1000
      const operation = a.findNode(idOf(50).bytes, at(start))
      expect(a.takeOutput().sends).toHaveLength(1)
      expect(a.nextDeadlineMs()).toBe(start + 100)
      a.tick(at(start + 99))
      expect(a.takeOutput().completed).toEqual([])
      a.tick(at(start + 100))
      const { completed, dropped } = a.takeOutput()
      // Dropped (and reported, so the driver hangs up) on the second failure only.
      expect(dropped.map((id) => id.hex)).toEqual(round === 1 ? [silent.id.hex] : [])
      expect(completed.map((result) => result.operationId)).toEqual([operation])
      expect(completed[0]!.closest).toEqual([])
    }
    expect(a.stats.requestsFailed).toBe(2)
    expect(a.table.has(silent.id)).toBe(false)
  })

  it('a lookup through a chain of nodes learns hops and finds the target', () => {
    const nodes = [1, 2, 3, 4].map((n) => node(n))
    // 1 knows 2, 2 knows 3, 3 knows 4: finding 4 from 1 takes two hops of learning.
    for (let i = 0; i < 3; i++)
      nodes[i]!.addContact({ id: nodes[i + 1]!.localId, addresses: [`mem://n${i + 2}`] }, at(0))
    nodes[0]!.findNode(nodes[3]!.localId.bytes, at(0))
    const byHex = new Map(nodes.map((n) => [n.localId.hex, n]))
    let result
    for (let step = 1; step < 50 && !result; step++) {
      for (const sender of nodes) {
        const output = sender.takeOutput()
        for (const send of output.sends)
          byHex.get(send.to.id.hex)?.receive(sender.localId, send.bytes, at(step))
        if (sender === nodes[0]) result = output.completed[0]
      }
    }
    expect(result?.closest[0]?.id.hex).toBe(nodes[3]!.localId.hex)
    expect(result?.hops).toBe(2)
  })

  it('republishes its own records, re-replicates others only when no STORE came, and expires them', () => {
    const options = {
      republishIntervalMs: 1000,
      replicateIntervalMs: 1000,
      maintenanceIntervalMs: 100,
      refreshIntervalMs: 10 ** 9,
    }
    const a = node(1, options)
    const b = node(2, options)
    const c = node(3, options)
    const wire = new Map([a, b, c].map((n) => [n.localId.hex, n]))
    const run = (time: DhtTime): string[] => {
      const stores: string[] = []
      for (let round = 0; round < 20; round++) {
        let moved = false
        for (const sender of [a, b, c]) {
          for (const send of sender.takeOutput().sends) {
            if (send.bytes.length > 200) stores.push(`${sender.localId.bytes[0]}>${send.to.id.bytes[0]}`)
            wire.get(send.to.id.hex)?.receive(sender.localId, send.bytes, time)
            moved = true
          }
        }
        if (!moved) break
      }
      return stores
    }
    a.addContact({ id: b.localId, addresses: ['mem://n2'] }, at(0))
    b.addContact({ id: c.localId, addresses: ['mem://n3'] }, at(0))
    const key = new Uint8Array(32).fill(1)
    a.put({ key, value: new Uint8Array([1]), ttlMs: 2500 }, at(0))
    run(at(0))
    expect(b.records.get(key, WALL + 1)).toBeDefined()
    expect(c.records.get(key, WALL + 1)).toBeDefined()
    // At 1000 ms the owner republishes; the holders got that STORE, so they do not re-replicate.
    a.tick(at(1000))
    const first = run(at(1000))
    expect(first.filter((store) => store.startsWith('1>')).length).toBeGreaterThanOrEqual(2)
    b.tick(at(1001))
    c.tick(at(1001))
    expect(run(at(1001))).toEqual([])
    // The owner goes quiet (stopped): at 2100 ms the holders push it on themselves.
    b.tick(at(2100))
    c.tick(at(2100))
    expect(run(at(2100)).length).toBeGreaterThan(0)
    // Past its expiry every copy is gone.
    for (const n of [a, b, c]) n.tick(at(2600))
    for (const n of [a, b, c]) expect(n.records.size).toBe(0)
  })

  describe('bucket refresh', () => {
    // Contacts never answer here (requests time out at the next tick); a high failure limit keeps them
    // in the table all along.
    // k = 2 with two contacts in bucket 0 and one in bucket 1 keeps the buckets separate ranges.
    const options = {
      k: 2,
      refreshIntervalMs: 1000,
      maintenanceIntervalMs: 100,
      requestTimeoutMs: 50,
      contactFailuresMax: 100,
    }
    const limits = {
      k: 20,
      addressesPerContactMax: 4,
      addressLengthMax: 256,
      recordValueBytesMax: 8192,
      ids: new NodeIdCache(64),
    }
    /** Buckets of `a` that FIND_NODE requests among `sends` target (a lookup asks several contacts). */
    const bucketsTargeted = (a: DhtProtocol, sends: readonly { bytes: Uint8Array }[]): Set<number> => {
      const buckets = new Set<number>()
      for (const send of sends) {
        const { message } = decodeDhtMessage(codec, send.bytes, limits)
        if (message.type === 'find-node') buckets.add(commonPrefixLength(a.localId.bytes, message.target))
      }
      return buckets
    }
    /** Ticks `a` every maintenance interval up to `to` ms; returns, per bucket, the times it was refreshed. */
    const refreshTimes = (a: DhtProtocol, to: number, hook?: { atMs: number; run: () => void }) => {
      const times: number[][] = [[], []]
      for (let time = 100; time <= to; time += 100) {
        if (hook?.atMs === time) {
          hook.run()
          a.takeOutput()
        }
        a.tick(at(time))
        for (const bucket of bucketsTargeted(a, a.takeOutput().sends)) times[bucket]!.push(time)
      }
      return times
    }
    // a = 0000 0001…; b = 1000 0010… and d = 1000 0001… (bucket 0 of a); c = 0100 0001… (bucket 1).
    const setup = (extra: DhtOptions = {}): { a: DhtProtocol; b: DhtProtocol; c: DhtProtocol } => {
      const a = node(1, { ...options, ...extra })
      const b = node(0x82, { ...options, ...extra })
      const c = node(0x41, { ...options, ...extra })
      a.addContact({ id: b.localId, addresses: ['mem://n130'] }, at(0))
      a.addContact({ id: idOf(0x81), addresses: ['mem://n129'] }, at(0))
      a.addContact({ id: c.localId, addresses: ['mem://n65'] }, at(0))
      return { a, b, c }
    }

    it('refreshes each bucket once per refreshIntervalMs without lookups; a lookup of ours postpones it', () => {
      const quiet = refreshTimes(setup().a, 3000)
      for (const times of quiet) {
        // The first refresh falls at a random point of the first interval, then one every interval
        // after the last lookup into the bucket ended (a refresh lookup here ends one tick after it starts).
        expect(times[0]).toBeGreaterThan(0)
        expect(times[0]).toBeLessThanOrEqual(1000)
        expect(times.slice(1)).toEqual([times[0]! + 1100, times[0]! + 2200].filter((time) => time <= 3000))
      }
      const first = quiet[1]![0]!
      const { a } = setup()
      const postponed = refreshTimes(a, 3000, {
        atMs: first + 500,
        run: () => a.findNode(idOf(0x42).bytes, at(first + 500)),
      })
      expect(postponed[0]).toEqual(quiet[0])
      // The lookup of ours ends at first + 600: bucket 1 is next refreshed an interval after that.
      expect(postponed[1]!.slice(0, 2)).toEqual([first, first + 1600])
    })

    it('refreshes the deepest buckets holding at most k contacts together, by one lookup', () => {
      // With k = 20 the three contacts (buckets 0 and 1) form one range: one lookup per interval.
      const times = refreshTimes(setup({ k: 20 }).a, 3000)
      expect(times[0]!.length).toBe(3)
      expect(times[1]).toEqual([])
    })

    it('a request from a node in a bucket keeps that bucket fresh (Kademlia §2.3), unless turned off', () => {
      for (const trafficRefreshesBuckets of [true, false]) {
        const { a, b } = setup({ trafficRefreshesBuckets })
        // At 50 ms b (bucket 0 of a) looks something up through a: a request from bucket 0's range.
        b.addContact({ id: a.localId, addresses: ['mem://n1'] }, at(50))
        b.findNode(idOf(0x90).bytes, at(50))
        expect(deliver(b, a, at(50))).toBe(1)
        a.takeOutput()
        const times = refreshTimes(a, 1500)
        if (trafficRefreshesBuckets) expect(times[0]).toEqual([1100])
        else expect(times[0]![0]).toBeLessThanOrEqual(1000)
        expect(times[1]![0]).toBeLessThanOrEqual(1000)
      }
    })

    it('an answer from a node in a bucket keeps that bucket fresh too', () => {
      for (const trafficRefreshesBuckets of [true, false]) {
        const { a, b, c } = setup({ trafficRefreshesBuckets })
        // A lookup into bucket 1 asks b (bucket 0) as well: only b's answer can refresh bucket 0.
        a.findNode(idOf(0x42).bytes, at(50))
        const asked = a.takeOutput().sends
        expect(asked.map((send) => send.to.id.hex).sort()).toEqual([b.localId.hex, c.localId.hex].sort())
        for (const peer of [b, c]) {
          for (const send of asked) {
            if (send.to.id.equals(peer.localId)) peer.receive(a.localId, send.bytes, at(60))
          }
          expect(deliver(peer, a, at(70))).toBe(1)
        }
        expect(a.takeOutput().completed).toHaveLength(1)
        const times = refreshTimes(a, 1500)
        if (trafficRefreshesBuckets) expect(times[0]).toEqual([1100])
        else expect(times[0]![0]).toBeLessThanOrEqual(1000)
        expect(times[1]).toEqual([1100])
      }
    })
  })
})
