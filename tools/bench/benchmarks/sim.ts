import {
  HistoryRecorder,
  SimNetwork,
  SimRandom,
  Simulation,
  checkLinearizable,
  simNodeId,
  type HistoryEntry,
} from '@socketcloud/sim'
import { defineBenchmark } from '../src/harness'

/**
 * The deterministic simulator's own speed: bare scheduler events per second (1,000 concurrent
 * self-rescheduling timers), the same through the async runner (which yields to microtasks after
 * every event), simulated network messages per second (5 nodes, jitter and faults on,
 * so every message costs its fault draws, a delivery event and a trace-hash update), and the
 * linearizability checker on histories from an atomic register. Baseline in the same run: calling
 * the same callbacks directly from an array, i.e. the cost of the work without any scheduling.
 */

const TIMERS = 1000

function schedulerWorkload(): { sim: Simulation; counter: { value: number } } {
  const sim = new Simulation({ seed: 1, eventsMax: Number.MAX_SAFE_INTEGER })
  const random = sim.random.fork()
  const counter = { value: 0 }
  for (let i = 0; i < TIMERS; i++) {
    const tick = (): void => {
      counter.value++
      sim.clock.setTimer(1 + random.nextInt(10), tick)
    }
    sim.clock.setTimer(random.nextInt(10), tick)
  }
  return { sim, counter }
}

async function networkWorkload(): Promise<{ sim: Simulation; network: SimNetwork; send: () => void }> {
  const sim = new Simulation({ seed: 2, eventsMax: Number.MAX_SAFE_INTEGER, traceTailMax: 0 })
  const network = new SimNetwork(sim, {
    latencyMs: 1,
    jitterMs: 2,
    dropRate: 0.01,
    duplicateRate: 0.01,
    reorderRate: 0.01,
    sendQueueMessagesMax: 1_000_000,
  })
  const ids = [0, 1, 2, 3, 4].map((i) => simNodeId(i))
  const nodes = ids.map((id) => network.endpoint(id))
  await Promise.all(nodes.map((node, i) => node.listen(`mem://n${i}`)))
  const dials = nodes.flatMap((node, i) => nodes.slice(i + 1).map((_, j) => node.dial(`mem://n${i + j + 1}`)))
  await sim.runForAsync(20)
  await Promise.all(dials)
  const payload = new Uint8Array(128)
  const random = sim.random.fork()
  const send = (): void => {
    for (let i = 0; i < 1000; i++) {
      const from = random.nextInt(5)
      const to = (from + 1 + random.nextInt(4)) % 5
      nodes[from]!.send(ids[to]!, payload)
    }
  }
  return { sim, network, send }
}

/** One client's operation in flight: invoked, then takes effect, then completes. */
interface Slot {
  id: number
  kind: string
  key: string
  value: string
  effected: boolean
  out?: unknown
}

/** A history of `clients` × `perClient` operations on 3 keys, linearizable by construction. */
function registerHistory(seed: number, clients: number, perClient: number): HistoryEntry[] {
  const random = new SimRandom(seed)
  let now = 0
  const recorder = new HistoryRecorder({ now: () => now })
  const state = new Map<string, string | null>()
  const remaining = Array.from({ length: clients }, () => perClient)
  const busy = new Array<boolean>(clients).fill(false)
  const slots: (Slot | undefined)[] = new Array(clients)
  while (remaining.some((n) => n > 0) || busy.some(Boolean)) {
    now += random.between(0, 1)
    const client = random.nextInt(clients)
    const slot = slots[client]
    if (slot === undefined) {
      if (remaining[client]! === 0) continue
      remaining[client]!--
      const key = `k${random.nextInt(3)}`
      const kind = random.chance(0.5) ? 'get' : 'put'
      const value = `${client}.${remaining[client]}`
      const id = recorder.invoke(
        `c${client}`,
        kind === 'get' ? { kind: 'get', key } : { kind: 'put', key, value },
      )
      slots[client] = { id, kind, key, value, effected: false }
      busy[client] = true
    } else if (!slot.effected) {
      // The operation's linearization point: it takes effect now, atomically.
      if (slot.kind === 'get') slot.out = state.get(slot.key) ?? null
      else state.set(slot.key, slot.value)
      slot.effected = true
    } else {
      recorder.complete(slot.id, slot.kind === 'get' ? (slot.out as string | null) : undefined)
      slots[client] = undefined
      busy[client] = false
    }
  }
  return recorder.history()
}

export default defineBenchmark({
  name: 'sim',
  description: 'simulator: scheduler events/s, simulated network messages/s, linearizability checks/s',
  async run(ctx) {
    const scheduler = schedulerWorkload()
    const schedulerCase = await ctx.measureThroughput('scheduler events (1,000 timers)', () => {
      const before = scheduler.sim.eventsExecuted
      scheduler.sim.runFor(100)
      return scheduler.sim.eventsExecuted - before
    })

    const asyncScheduler = schedulerWorkload()
    const asyncCase = await ctx.measureThroughput(
      'async runner events (1,000 timers, 64 microtask turns)',
      async () => {
        const before = asyncScheduler.sim.eventsExecuted
        await asyncScheduler.sim.runForAsync(20)
        return asyncScheduler.sim.eventsExecuted - before
      },
    )

    const { sim, network, send } = await networkWorkload()
    const networkCase = await ctx.measureThroughput('network messages delivered (5 nodes, faults on)', () => {
      const before = network.stats.delivered
      send()
      sim.runFor(50)
      return network.stats.delivered - before
    })
    networkCase.events_per_message = Math.round((sim.eventsExecuted / network.stats.delivered) * 100) / 100

    const histories = Array.from({ length: 32 }, (_, seed) => registerHistory(seed + 1, 5, 40))
    let index = 0
    let unexpected = 0
    const checkerCase = await ctx.measureThroughput('linearizability check (5 clients x 40 ops)', () => {
      const history = histories[index++ % histories.length]!
      if (checkLinearizable(history).outcome !== 'linearizable') unexpected++
      return history.length
    })
    checkerCase.unit = 'operations checked'

    const callbacks = Array.from({ length: TIMERS }, () => {
      const counter = { value: 0 }
      return () => {
        counter.value++
      }
    })
    const baselineCase = await ctx.measureThroughput('direct callback calls (no scheduler)', () => {
      for (let round = 0; round < 100; round++) for (const callback of callbacks) callback()
      return 100 * TIMERS
    })

    return {
      name: 'sim',
      cases: [schedulerCase, asyncCase, networkCase, checkerCase],
      baseline: { 'direct calls': [baselineCase] },
      notes: [
        `scheduler counter ${scheduler.counter.value}; network stats ${JSON.stringify(network.stats)}`,
        unexpected === 0
          ? 'every generated history checked linearizable'
          : `${unexpected} histories NOT linearizable (bug)`,
        'measured on a shared 2-core machine with other work running: figures are noisy',
      ],
    }
  },
})
