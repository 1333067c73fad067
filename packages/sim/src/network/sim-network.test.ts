// Goal: every fault the simulated network injects behaves as documented — latency and jitter keep
// per-connection order, drop/duplicate/reorder happen at their rates, partitions of every shape lose
// exactly the messages that cross them, crashes reset peers and restarts come back empty.
import { describe, expect, it } from 'vitest'
import type { NodeId } from '@socketcloud/core'
import { SimNetwork, Simulation, simNodeId } from '../index'
import type { SimNetworkOptions, SimTransport } from '../index'

interface Cluster {
  sim: Simulation
  network: SimNetwork
  ids: NodeId[]
  nodes: SimTransport[]
  inbox: Map<string, { from: string; value: number; atMs: number }[]>
}

async function cluster(size: number, options: SimNetworkOptions = {}, seed = 1): Promise<Cluster> {
  const sim = new Simulation({ seed })
  const network = new SimNetwork(sim, options)
  const ids = Array.from({ length: size }, (_, i) => simNodeId(i))
  const nodes = ids.map((id) => network.endpoint(id))
  const inbox = new Map<string, { from: string; value: number; atMs: number }[]>()
  for (const node of nodes) {
    const received: { from: string; value: number; atMs: number }[] = []
    inbox.set(node.localId.hex, received)
    node.events.on('message', ({ from, bytes }) =>
      received.push({ from: from.hex, value: bytes[0]!, atMs: sim.now }),
    )
    await node.listen(`mem://n${nodes.indexOf(node)}`)
  }
  const dials: Promise<NodeId>[] = []
  for (let i = 0; i < size; i++) for (let j = i + 1; j < size; j++) dials.push(nodes[i]!.dial(`mem://n${j}`))
  await sim.runForAsync(50)
  await Promise.all(dials)
  return { sim, network, ids, nodes, inbox }
}

function values(c: Cluster, to: number, from?: number): number[] {
  const fromHex = from === undefined ? undefined : c.ids[from]!.hex
  return (c.inbox.get(c.ids[to]!.hex) ?? [])
    .filter((m) => fromHex === undefined || m.from === fromHex)
    .map((m) => m.value)
}

function sendSeries(c: Cluster, from: number, to: number, count: number): void {
  for (let i = 0; i < count; i++) expect(c.nodes[from]!.send(c.ids[to]!, new Uint8Array([i])).ok).toBe(true)
}

describe('SimNetwork delivery', () => {
  it('delivers after the latency, keeping order under jitter', async () => {
    const c = await cluster(2, { latencyMs: 10, jitterMs: 8 })
    const start = c.sim.now
    sendSeries(c, 0, 1, 100)
    c.sim.runFor(100)
    expect(values(c, 1)).toEqual([...Array(100).keys()])
    const times = c.inbox.get(c.ids[1]!.hex)!.map((m) => m.atMs - start)
    expect(Math.min(...times)).toBeGreaterThanOrEqual(10)
    expect(Math.max(...times)).toBeLessThan(18)
    expect(c.network.stats).toMatchObject({ sent: 100, delivered: 100, dropped: 0 })
  })

  it('drops, duplicates and reorders at roughly their configured rates', async () => {
    const c = await cluster(2, { latencyMs: 5, dropRate: 0.2, duplicateRate: 0.1, reorderRate: 0.2 })
    sendSeries(c, 0, 1, 250)
    sendSeries(c, 0, 1, 250)
    c.sim.runFor(1000)
    const stats = c.network.stats
    expect(stats.sent).toBe(500)
    expect(stats.dropped).toBeGreaterThan(60)
    expect(stats.dropped).toBeLessThan(140)
    expect(stats.duplicated).toBeGreaterThan(15)
    expect(stats.duplicated).toBeLessThan(70)
    expect(stats.reordered).toBeGreaterThan(40)
    expect(stats.delivered).toBe(stats.sent - stats.dropped + stats.duplicated)
    const received = values(c, 1)
    expect(received.length).toBe(stats.delivered)
    const outOfOrder = received.filter((value, i) => i > 0 && value < received[i - 1]! && value > 10)
    expect(outOfOrder.length).toBeGreaterThan(0)
  })

  it('setFaults changes faults for later messages only', async () => {
    const c = await cluster(2, { latencyMs: 1 })
    sendSeries(c, 0, 1, 10)
    c.network.setFaults({ dropRate: 1 })
    sendSeries(c, 0, 1, 10)
    c.sim.runFor(10)
    expect(values(c, 1)).toEqual([...Array(10).keys()])
    c.network.setFaults({ dropRate: 0, latencyMs: 7 })
    const before = c.sim.now
    sendSeries(c, 0, 1, 1)
    c.sim.runFor(20)
    expect(c.inbox.get(c.ids[1]!.hex)!.at(-1)!.atMs - before).toBe(7)
  })
})

describe('SimNetwork per-link faults', () => {
  it('a slow, lossy link affects one direction only, until reset', async () => {
    const c = await cluster(2, { latencyMs: 1 })
    c.network.setLinkFaults(c.ids[0]!, c.ids[1]!, { latencyMs: 40 })
    const start = c.sim.now
    sendSeries(c, 0, 1, 1)
    sendSeries(c, 1, 0, 1)
    c.sim.runFor(100)
    expect(c.inbox.get(c.ids[1]!.hex)![0]!.atMs - start).toBe(40)
    expect(c.inbox.get(c.ids[0]!.hex)![0]!.atMs - start).toBe(1)
    c.network.setLinkFaults(c.ids[0]!, c.ids[1]!, { dropRate: 1 })
    sendSeries(c, 0, 1, 5)
    c.sim.runFor(100)
    expect(values(c, 1)).toEqual([0])
    c.network.setLinkFaults(c.ids[0]!, c.ids[1]!, null)
    sendSeries(c, 0, 1, 1)
    c.sim.runFor(100)
    expect(values(c, 1)).toEqual([0, 0])
  })

  it('an aborted dial rejects and leaves no connection behind on the dialler', async () => {
    const sim = new Simulation({ seed: 1 })
    const network = new SimNetwork(sim, { latencyMs: 10 })
    const [a, b] = [network.endpoint(simNodeId('a')), network.endpoint(simNodeId('b'))]
    await b.listen('mem://b')
    const controller = new AbortController()
    const dial = a.dial('mem://b', { signal: controller.signal }).catch((error: unknown) => error)
    await sim.runForAsync(5)
    controller.abort()
    expect(await dial).toMatchObject({ code: 'CONNECTION_CLOSED' })
    await sim.runForAsync(50)
    expect(a.connectedPeers()).toEqual([])
    expect(b.connectedPeers()).toEqual([])
  })

  it('a dial given up after the listener accepted closes the half-open connection', async () => {
    const sim = new Simulation({ seed: 1 })
    const network = new SimNetwork(sim, { latencyMs: 10 })
    const [a, b] = [network.endpoint(simNodeId('a')), network.endpoint(simNodeId('b'))]
    const seen: string[] = []
    b.events.on('peer:connect', () => seen.push('connect'))
    b.events.on('peer:disconnect', () => seen.push('disconnect'))
    await b.listen('mem://b')
    const controller = new AbortController()
    const dial = a.dial('mem://b', { signal: controller.signal }).catch((error: unknown) => error)
    await sim.runForAsync(15)
    expect(b.connectedPeers().length).toBe(1)
    controller.abort()
    expect(await dial).toMatchObject({ code: 'CONNECTION_CLOSED' })
    await sim.runForAsync(50)
    expect(a.connectedPeers()).toEqual([])
    expect(b.connectedPeers()).toEqual([])
    expect(seen).toEqual(['connect', 'disconnect'])
    const again = a.dial('mem://b')
    await sim.runForAsync(50)
    expect((await again).equals(b.localId)).toBe(true)
  })

  it('refuses a dial to itself', async () => {
    const sim = new Simulation({ seed: 1 })
    const network = new SimNetwork(sim)
    const a = network.endpoint(simNodeId('a'))
    await a.listen('mem://a')
    const self = a.dial('mem://a').catch((error: unknown) => error)
    await sim.runForAsync(10)
    expect(await self).toMatchObject({ code: 'CONNECTION_REFUSED' })
    expect(a.connectedPeers()).toEqual([])
  })
})

describe('SimNetwork partitions', () => {
  it('partition() lets messages flow only inside each group, and heal() restores everything', async () => {
    const c = await cluster(4)
    c.network.partition([[c.ids[0]!, c.ids[1]!], [c.ids[2]!]])
    for (let from = 0; from < 4; from++)
      for (let to = 0; to < 4; to++) if (from !== to) sendSeries(c, from, to, 1)
    c.sim.runFor(10)
    expect(values(c, 1, 0)).toEqual([0])
    expect(values(c, 2, 0)).toEqual([])
    expect(values(c, 3, 0)).toEqual([])
    expect(values(c, 0, 2)).toEqual([])
    expect(values(c, 3, 2)).toEqual([])
    expect(values(c, 1, 3)).toEqual([])
    c.network.heal()
    sendSeries(c, 0, 3, 1)
    c.sim.runFor(10)
    expect(values(c, 3, 0)).toEqual([0])
  })

  it('isolate() cuts one node off in both directions', async () => {
    const c = await cluster(3)
    c.network.isolate(c.ids[2]!)
    sendSeries(c, 0, 2, 1)
    sendSeries(c, 2, 1, 1)
    sendSeries(c, 0, 1, 1)
    c.sim.runFor(10)
    expect(values(c, 2)).toEqual([])
    expect(values(c, 1)).toEqual([0])
    expect(c.network.isReachable(c.ids[2]!, c.ids[1]!)).toBe(false)
  })

  it('blockOneWay() loses one direction only', async () => {
    const c = await cluster(2)
    c.network.blockOneWay(c.ids[0]!, c.ids[1]!)
    sendSeries(c, 0, 1, 3)
    sendSeries(c, 1, 0, 3)
    c.sim.runFor(10)
    expect(values(c, 1)).toEqual([])
    expect(values(c, 0)).toEqual([0, 1, 2])
  })

  it('a partition also loses messages already in flight', async () => {
    const c = await cluster(2, { latencyMs: 10 })
    sendSeries(c, 0, 1, 1)
    c.sim.runFor(5)
    c.network.isolate(c.ids[1]!)
    c.sim.runFor(10)
    expect(values(c, 1)).toEqual([])
    expect(c.network.stats.dropped).toBe(1)
  })

  it('a dial across a partition times out with PEER_UNREACHABLE', async () => {
    const sim = new Simulation({ seed: 1 })
    const network = new SimNetwork(sim, { dialTimeoutMs: 300 })
    const [a, b] = [network.endpoint(simNodeId('a')), network.endpoint(simNodeId('b'))]
    await b.listen('mem://b')
    network.isolate(b.localId)
    const dial = a.dial('mem://b')
    const outcome = dial.catch((error: unknown) => error)
    await sim.runForAsync(400)
    expect(await outcome).toMatchObject({ code: 'PEER_UNREACHABLE' })
  })
})

describe('SimNetwork crashes and limits', () => {
  it('a crash resets every peer, and the restarted endpoint starts empty but reachable', async () => {
    const c = await cluster(3)
    const disconnects: string[] = []
    c.nodes[0]!.events.on('peer:disconnect', ({ peer, error }) =>
      disconnects.push(`${peer.hex}:${error?.code}`),
    )
    c.network.crash(c.ids[2]!)
    expect(c.nodes[2]!.send(c.ids[0]!, new Uint8Array([1])).ok).toBe(false)
    c.sim.runFor(10)
    expect(disconnects).toEqual([`${c.ids[2]!.hex}:CONNECTION_CLOSED`])
    expect(c.nodes[0]!.connectedPeers().map((id) => id.hex)).toEqual([c.ids[1]!.hex])
    const restarted = c.network.restart(c.ids[2]!)
    expect(restarted).not.toBe(c.nodes[2])
    expect(restarted.incarnation).toBe(1)
    expect(restarted.connectedPeers()).toEqual([])
    expect(restarted.listenAddresses()).toEqual([])
    const received: number[] = []
    restarted.events.on('message', ({ bytes }) => received.push(bytes[0]!))
    const dial = restarted.dial('mem://n0')
    await c.sim.runForAsync(10)
    expect((await dial).equals(c.ids[0]!)).toBe(true)
    expect(c.nodes[0]!.send(c.ids[2]!, new Uint8Array([9])).ok).toBe(true)
    c.sim.runFor(10)
    expect(received).toEqual([9])
  })

  it('a dial whose answer a partition lost leaves no stale connection once the dialler crashes and restarts', async () => {
    // Found by consensus sweep seed 200107: the listener kept the half-open connection of the dead
    // incarnation, the restarted node's dials were answered with it, and the pair never talked again.
    const sim = new Simulation({ seed: 1 })
    const network = new SimNetwork(sim, { latencyMs: 5, dialTimeoutMs: 100 })
    const [aId, bId] = [simNodeId('a'), simNodeId('b')]
    const a = network.endpoint(aId)
    const b = network.endpoint(bId)
    await a.listen('mem://a')
    await b.listen('mem://b')
    const lost = a.dial('mem://b').catch((error: unknown) => error)
    sim.runFor(7) // the dial reached b at 5 ms; its answer is on the way back
    network.isolate(aId)
    await sim.runForAsync(200)
    expect(await lost).toMatchObject({ code: 'PEER_UNREACHABLE' })
    network.crash(aId)
    network.heal()
    sim.runFor(20)
    expect(b.connectedPeers()).toEqual([])
    const restarted = network.restart(aId)
    await restarted.listen('mem://a')
    const received: number[] = []
    restarted.events.on('message', ({ bytes }) => received.push(bytes[0]!))
    const redial = restarted.dial('mem://b')
    await sim.runForAsync(20)
    expect((await redial).equals(bId)).toBe(true)
    expect(restarted.connectedPeers().map((id) => id.hex)).toEqual([bId.hex])
    expect(b.connectedPeers().map((id) => id.hex)).toEqual([aId.hex])
    expect(b.send(aId, new Uint8Array([7])).ok).toBe(true)
    sim.runFor(20)
    expect(received).toEqual([7])
  })

  it('refuses a dial to an unknown address and to a wrong expected peer', async () => {
    const sim = new Simulation({ seed: 1 })
    const network = new SimNetwork(sim)
    const [a, b] = [network.endpoint(simNodeId('a')), network.endpoint(simNodeId('b'))]
    await b.listen('mem://b')
    const unknown = a.dial('mem://nobody').catch((error: unknown) => error)
    const wrong = a.dial('mem://b', { expectedPeer: simNodeId('c') }).catch((error: unknown) => error)
    const badScheme = a.dial('tcp://127.0.0.1:1').catch((error: unknown) => error)
    await sim.runForAsync(10)
    expect(await unknown).toMatchObject({ code: 'CONNECTION_REFUSED' })
    expect(await wrong).toMatchObject({ code: 'PEER_ID_MISMATCH' })
    expect(await badScheme).toMatchObject({ code: 'INVALID_ADDRESS' })
    await expect(a.listen('mem://b')).rejects.toMatchObject({ code: 'INVALID_ADDRESS' })
  })

  it('refuses a message above frameBytesMax and a connection beyond connectionsMax', async () => {
    const sim = new Simulation({ seed: 1 })
    const network = new SimNetwork(sim, { frameBytesMax: 100, connectionsMax: 1 })
    const [a, b, c] = ['a', 'b', 'c'].map((name) => network.endpoint(simNodeId(name))) as [
      SimTransport,
      SimTransport,
      SimTransport,
    ]
    const refusals: string[] = []
    a.events.on('error', ({ error }) => refusals.push(error.code))
    await a.listen('mem://a')
    const first = b.dial('mem://a')
    await sim.runForAsync(10)
    expect((await first).equals(a.localId)).toBe(true)
    const second = c.dial('mem://a').catch((error: unknown) => error)
    await sim.runForAsync(10)
    expect(await second).toMatchObject({ code: 'CONNECTION_REFUSED' })
    expect(refusals).toEqual(['CONNECTIONS_EXHAUSTED'])
    const result = b.send(a.localId, new Uint8Array(101))
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.error.code).toBe('FRAME_TOO_LARGE')
    expect(b.send(a.localId, new Uint8Array(100)).ok).toBe(true)
  })

  it('the same seed gives the same deliveries; the trace notes every fault', async () => {
    const run = async (seed: number): Promise<string> => {
      const c = await cluster(
        3,
        { latencyMs: 2, jitterMs: 5, dropRate: 0.3, duplicateRate: 0.2, reorderRate: 0.3 },
        seed,
      )
      for (let i = 0; i < 3; i++) sendSeries(c, i, (i + 1) % 3, 10)
      expect(c.sim.traceTail().some((label) => /net\.(drop|duplicate|reorder)/.test(label))).toBe(true)
      c.sim.runFor(100)
      return JSON.stringify([...c.inbox.values()]) + c.sim.traceHash()
    }
    expect(await run(8)).toBe(await run(8))
    expect(await run(8)).not.toBe(await run(9))
  })
})
