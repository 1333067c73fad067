// Goal: the scheduler runs events in (time, scheduling order), virtual clocks read and schedule on
// virtual time, invariants and failures carry the seed, and async runners settle promise chains.
import { describe, expect, it } from 'vitest'
import { SimRandom, Simulation, SimulationError, runSeeds } from './index'

describe('Simulation scheduler', () => {
  it('runs events by virtual time, then by scheduling order for ties', () => {
    const sim = new Simulation({ seed: 1 })
    const order: string[] = []
    sim.schedule(10, 'c', () => order.push('c'))
    sim.schedule(5, 'a', () => order.push('a'))
    sim.schedule(10, 'd', () => order.push('d'))
    sim.schedule(5, 'b', () => {
      order.push('b')
      sim.schedule(0, 'b2', () => order.push('b2'))
    })
    sim.runFor(100)
    expect(order).toEqual(['a', 'b', 'b2', 'c', 'd'])
    expect(sim.now).toBe(100)
    expect(sim.eventsExecuted).toBe(5)
  })

  it('runFor stops at the deadline and leaves later events pending', () => {
    const sim = new Simulation({ seed: 1 })
    let fired = 0
    sim.schedule(10, 'early', () => fired++)
    sim.schedule(30, 'late', () => fired++)
    sim.runFor(20)
    expect(fired).toBe(1)
    expect(sim.now).toBe(20)
    expect(sim.pendingEvents).toBe(1)
    sim.runFor(10)
    expect(fired).toBe(2)
  })

  it('cancelled events and timers never run', () => {
    const sim = new Simulation({ seed: 1 })
    let fired = false
    const event = sim.schedule(5, 'x', () => (fired = true))
    const timer = sim.clock.setTimer(5, () => (fired = true))
    event.cancel()
    timer.cancel()
    timer.cancel()
    expect(sim.pendingEvents).toBe(0)
    sim.runFor(10)
    expect(fired).toBe(false)
  })

  it('runUntil returns true when the predicate holds and false at the time limit', () => {
    const sim = new Simulation({ seed: 1 })
    let ticks = 0
    const tick = (): void => {
      ticks++
      sim.schedule(10, 'tick', tick)
    }
    sim.schedule(10, 'tick', tick)
    expect(sim.runUntil(() => ticks === 5)).toBe(true)
    expect(sim.now).toBe(50)
    expect(sim.runUntil(() => ticks === 100, { timeMsMax: 100 })).toBe(false)
    expect(sim.now).toBe(150)
  })

  it('fails with EVENTS_EXHAUSTED when a run exceeds its event budget', () => {
    const sim = new Simulation({ seed: 9 })
    const spin = (): void => void sim.schedule(0, 'spin', spin)
    spin()
    expect(() => sim.runFor(1, { eventsMax: 100 })).toThrow(/budget of 100 events[\s\S]*SIM_SEED=9/)
  })

  it('a failing invariant throws with the seed, the time and the recent events', () => {
    const sim = new Simulation({ seed: 77 })
    let value = 0
    sim.addInvariant('value stays below 3', () => value < 3 || `value is ${value}`)
    for (let i = 1; i <= 5; i++) sim.schedule(i, `inc ${i}`, () => value++)
    let caught: unknown
    try {
      sim.runFor(10)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(SimulationError)
    const error = caught as SimulationError
    expect(error.code).toBe('INVARIANT_FAILED')
    expect(error.message).toContain('value is 3')
    expect(error.message).toContain('reproduce: SIM_SEED=77')
    expect(error.context['timeMs']).toBe(3)
    expect(error.context['recentEvents']).toEqual(['1ms inc 1', '2ms inc 2', '3ms inc 3'])
  })

  it('an event that throws fails the run with the seed and the event label', () => {
    const sim = new Simulation({ seed: 5 })
    sim.schedule(1, 'explode', () => {
      throw new Error('boom')
    })
    expect(() => sim.runFor(2)).toThrow(/event 'explode' threw: boom[\s\S]*SIM_SEED=5/)
  })

  it('refuses to run re-entrantly from inside an event', () => {
    const sim = new Simulation({ seed: 1 })
    sim.schedule(1, 'nested', () => sim.runFor(1))
    expect(() => sim.runFor(2)).toThrow(/inside an event/)
  })
})

describe('Simulation scheduler against a reference', () => {
  it('runs random schedules with cancellations in exactly (time, sequence) order', async () => {
    await runSeeds('scheduler order', { count: 20 }, (seed) => {
      const random = new SimRandom(seed)
      const sim = new Simulation({ seed })
      const expected: { timeMs: number; sequence: number }[] = []
      const ran: number[] = []
      let sequence = 0
      const handles: { cancel(): void; sequence: number }[] = []
      for (let i = 0; i < 500; i++) {
        const delay = random.chance(0.3) ? random.nextInt(5) : random.between(0, 100)
        const mine = sequence++
        const handle = sim.schedule(delay, `e${mine}`, () => ran.push(mine))
        handles.push({ cancel: () => handle.cancel(), sequence: mine })
        expected.push({ timeMs: delay, sequence: mine })
      }
      const cancelled = new Set<number>()
      for (const handle of random.shuffle(handles).slice(0, 100)) {
        handle.cancel()
        cancelled.add(handle.sequence)
      }
      expect(sim.pendingEvents).toBe(400)
      sim.runFor(200)
      const order = expected
        .filter((event) => !cancelled.has(event.sequence))
        .sort((a, b) => a.timeMs - b.timeMs || a.sequence - b.sequence)
        .map((event) => event.sequence)
      expect(ran).toEqual(order)
      expect(sim.pendingEvents).toBe(0)
    })
  })
})

describe('VirtualClock', () => {
  it('reads virtual time and fires timers on it', () => {
    const sim = new Simulation({ seed: 1, startWallMs: 1_000_000 })
    const fired: number[] = []
    sim.clock.setTimer(25, () => fired.push(sim.clock.now()))
    sim.clock.setTimer(-5, () => fired.push(sim.clock.now()))
    sim.runFor(100)
    expect(fired).toEqual([0, 25])
    expect(sim.clock.now()).toBe(100)
    expect(sim.clock.wallNow()).toBe(1_000_100)
  })

  it('applies skew and drift to readings and timers', () => {
    const sim = new Simulation({ seed: 1 })
    const fast = sim.clockFor('fast', { skewMs: 50, driftPpm: 100_000 })
    let firedAt = -1
    fast.setTimer(110, () => (firedAt = sim.now))
    sim.runFor(1000)
    expect(firedAt).toBeCloseTo(100, 9)
    expect(fast.now()).toBeCloseTo(1150, 9)
  })

  it('a stopped clock cancels its pending timers and ignores new ones', () => {
    const sim = new Simulation({ seed: 1 })
    const clock = sim.clockFor('node-1')
    let fired = 0
    clock.setTimer(10, () => fired++)
    clock.setTimer(20, () => fired++)
    expect(clock.pendingTimers).toBe(2)
    clock.stop()
    clock.setTimer(5, () => fired++)
    sim.runFor(100)
    expect(fired).toBe(0)
    expect(sim.pendingEvents).toBe(0)
  })
})

describe('async runners', () => {
  it('settle promise chains started by an event before the next event runs', async () => {
    const sim = new Simulation({ seed: 1 })
    const log: string[] = []
    const wait = (ms: number): Promise<void> => new Promise((resolve) => sim.clock.setTimer(ms, resolve))
    const worker = async (name: string): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await wait(10)
        await Promise.resolve()
        log.push(`${name}${i}@${sim.now}`)
      }
    }
    const done = Promise.all([worker('a'), worker('b')])
    await sim.runForAsync(100)
    await done
    expect(log).toEqual(['a0@10', 'b0@10', 'a1@20', 'b1@20', 'a2@30', 'b2@30'])
  })

  it('runUntilAsync sees state changed by continuations', async () => {
    const sim = new Simulation({ seed: 1 })
    let done = false
    const timer = new Promise<void>((resolve) => sim.clock.setTimer(42, resolve)).then(() => {
      done = true
    })
    expect(await sim.runUntilAsync(() => done)).toBe(true)
    expect(sim.now).toBe(42)
    await timer
  })

  it('await() resolves a promise that settles on virtual time, and fails one that never does', async () => {
    const sim = new Simulation({ seed: 3 })
    const value = await sim.await(new Promise<number>((resolve) => sim.clock.setTimer(500, () => resolve(7))))
    expect(value).toBe(7)
    await expect(sim.await(new Promise(() => undefined), { timeMsMax: 1000 })).rejects.toThrow(/SIM_SEED=3/)
  })
})
