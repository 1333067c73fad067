// Goal: the simulator's own promise — same seed, same trace; different seed, different trace — with
// every network fault enabled. Method: run the same faulty workload (random traffic, partitions,
// crashes and restarts, disk crashes) and compare trace hashes and statistics.
import { describe, expect, it } from 'vitest'
import { SimDisk, SimNetwork, Simulation, simNodeId } from './index'

async function faultyRun(seed: number): Promise<{ hash: string; stats: unknown; received: number }> {
  const sim = new Simulation({ seed })
  const network = new SimNetwork(sim, {
    latencyMs: 3,
    jitterMs: 4,
    dropRate: 0.1,
    duplicateRate: 0.05,
    reorderRate: 0.1,
  })
  const disk = new SimDisk(sim, { tornWriteRate: 0.5 })
  const ids = [1, 2, 3, 4].map(simNodeId)
  const transports = ids.map((id) => network.endpoint(id))
  let received = 0
  await Promise.all(transports.map((transport, i) => transport.listen(`mem://n${i}`)))
  for (const transport of transports) transport.events.on('message', () => received++)
  const dials = transports.flatMap((transport, i) =>
    transports.slice(i + 1).map((_, j) => transport.dial(`mem://n${i + j + 1}`)),
  )
  await sim.runForAsync(50)
  await Promise.all(dials)
  const random = sim.random.fork()
  let index = 1
  const traffic = (): void => {
    const from = transports[random.nextInt(transports.length)]!
    const to = ids[random.nextInt(ids.length)]!
    if (!to.equals(from.localId)) from.send(to, new Uint8Array([index & 0xff]))
    disk
      .logStore()
      .write(
        { entries: [{ index, term: 1, kind: 'command', data: new Uint8Array([1]) }] },
        { sync: index % 3 === 0 },
      )
      .catch((error: unknown) => failures.push(error))
    index++
    sim.schedule(random.between(0, 2), 'traffic', traffic)
  }
  const failures: unknown[] = []
  traffic()
  sim.schedule(100, 'partition', () => network.partition([[ids[0]!, ids[1]!], [ids[2]!]]))
  sim.schedule(200, 'heal', () => network.heal())
  sim.schedule(250, 'crash disk', () => {
    disk.crash()
    index = disk.durableLogState().entries.length + 1
  })
  await sim.runForAsync(400)
  expect(failures).toEqual([])
  return { hash: sim.traceHash(), stats: network.stats, received }
}

describe('determinism self-test', () => {
  it('the same seed gives the same trace hash and statistics', async () => {
    const first = await faultyRun(1234)
    const second = await faultyRun(1234)
    expect(second).toEqual(first)
    expect(first.received).toBeGreaterThan(50)
  })

  it('different seeds give different traces', async () => {
    const hashes = new Set<string>()
    for (const seed of [1, 2, 3, 4, 5]) hashes.add((await faultyRun(seed)).hash)
    expect(hashes.size).toBe(5)
  })
})
