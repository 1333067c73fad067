// The README example, run as a test. Goal: show the simulator end to end — a toy replicated register
// (ABD: majority quorums, reads write back) on a faulty, partitioned SimNetwork, with every client
// operation recorded and the history checked for linearizability — and show that the same harness
// catches a broken variant (reads answered by a single replica).
import { describe, expect, it } from 'vitest'
import { utf8Decode, utf8Encode } from '@socketcloud/core'
import type { NodeId, Transport } from '@socketcloud/core'
import {
  HistoryRecorder,
  SimNetwork,
  Simulation,
  checkLinearizable,
  formatHistory,
  runSeeds,
  simNodeId,
} from '../index'
import type { LinearizabilityResult } from '../index'

type Timestamp = [counter: number, writer: string]
type Message =
  | { type: 'query'; request: number }
  | { type: 'stored'; request: number; ts: Timestamp; value: string | null }
  | { type: 'store'; request: number; ts: Timestamp; value: string | null }
  | { type: 'ack'; request: number }

const encode = (message: Message): Uint8Array => utf8Encode(JSON.stringify(message))
const decode = (bytes: Uint8Array): Message => JSON.parse(utf8Decode(bytes)) as Message
const newer = (a: Timestamp, b: Timestamp): boolean => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1])

/** A replica keeps the newest (timestamp, value) it has seen and answers queries with it. */
function startReplica(transport: Transport): void {
  let ts: Timestamp = [0, '']
  let value: string | null = null
  transport.events.on('message', ({ from, bytes }) => {
    const message = decode(bytes)
    if (message.type === 'query')
      transport.send(from, encode({ type: 'stored', request: message.request, ts, value }))
    if (message.type === 'store') {
      if (newer(message.ts, ts)) [ts, value] = [message.ts, message.value]
      transport.send(from, encode({ type: 'ack', request: message.request }))
    }
  })
}

/** A client runs each operation in two phases, each waiting for `needed` replies. */
class RegisterClient {
  private request = 0
  private waiting: {
    request: number
    needed: number
    replies: Message[]
    done: (r: Message[]) => void
  } | null = null

  constructor(
    readonly name: string,
    private readonly transport: Transport,
    private readonly replicas: readonly NodeId[],
    private readonly quorumReads: boolean,
  ) {
    transport.events.on('message', ({ bytes }) => {
      const message = decode(bytes)
      const waiting = this.waiting
      if (waiting === null || message.request !== waiting.request) return
      waiting.replies.push(message)
      if (waiting.replies.length === waiting.needed) waiting.done(waiting.replies)
    })
  }

  private get majority(): number {
    return Math.floor(this.replicas.length / 2) + 1
  }

  private phase(
    message: { type: 'query' } | Omit<Message & { type: 'store' }, 'request'>,
    needed: number,
  ): Promise<Message[]> {
    const request = ++this.request
    return new Promise((done) => {
      this.waiting = { request, needed, replies: [], done }
      for (const replica of this.replicas)
        this.transport.send(replica, encode({ ...message, request } as Message))
    })
  }

  private newest(replies: Message[]): { ts: Timestamp; value: string | null } {
    let best: { ts: Timestamp; value: string | null } = { ts: [0, ''], value: null }
    for (const reply of replies) if (reply.type === 'stored' && newer(reply.ts, best.ts)) best = reply
    return best
  }

  async write(value: string): Promise<void> {
    const { ts } = this.newest(await this.phase({ type: 'query' }, this.majority))
    await this.phase({ type: 'store', ts: [ts[0] + 1, this.name], value }, this.majority)
  }

  async read(): Promise<string | null> {
    const best = this.newest(await this.phase({ type: 'query' }, this.quorumReads ? this.majority : 1))
    if (this.quorumReads) await this.phase({ type: 'store', ts: best.ts, value: best.value }, this.majority)
    return best.value
  }
}

/** Three replicas, two clients, partitions changing every 150 ms; returns the checked history. */
async function runRegister(
  seed: number,
  quorumReads: boolean,
): Promise<LinearizabilityResult & { completed: number }> {
  const sim = new Simulation({ seed })
  const network = new SimNetwork(sim, { latencyMs: 2, jitterMs: 6, dropRate: 0.02 })
  const replicaIds = [0, 1, 2].map((i) => simNodeId(`replica-${i}`))
  for (const [i, id] of replicaIds.entries()) {
    const transport = network.endpoint(id)
    startReplica(transport)
    await transport.listen(`mem://replica-${i}`)
  }
  const recorder = new HistoryRecorder(sim.clock)
  const random = sim.random.fork()
  const dials: Promise<NodeId>[] = []
  const clients = ['c1', 'c2'].map((name) => {
    const transport = network.endpoint(simNodeId(name))
    for (const i of [0, 1, 2]) dials.push(transport.dial(`mem://replica-${i}`))
    return new RegisterClient(name, transport, replicaIds, quorumReads)
  })
  await sim.await(Promise.all(dials))

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => sim.clock.setTimer(ms, resolve))
  const timeout = (ms: number): Promise<'timeout'> =>
    new Promise((resolve) => sim.clock.setTimer(ms, () => resolve('timeout')))
  let completed = 0
  const workload = async (client: RegisterClient): Promise<void> => {
    for (let n = 0; sim.now < 3000; n++) {
      const isWrite = random.chance(0.5)
      const value = `${client.name}-${n}`
      const id = recorder.invoke(
        client.name,
        isWrite ? { kind: 'put', key: 'x', value } : { kind: 'get', key: 'x' },
      )
      const outcome = await Promise.race([isWrite ? client.write(value) : client.read(), timeout(100)])
      if (outcome === 'timeout') recorder.abandon(id)
      else {
        recorder.complete(id, isWrite ? undefined : (outcome as string | null))
        completed++
      }
      await sleep(random.between(0, 20))
    }
  }
  const nemesis = (): void => {
    const nodes = random.shuffle([...replicaIds, ...['c1', 'c2'].map((name) => simNodeId(name))])
    if (random.chance(0.3)) network.heal()
    else network.partition([nodes.slice(0, 2), nodes.slice(2)])
    sim.schedule(150, 'nemesis', nemesis)
  }
  sim.schedule(100, 'nemesis', nemesis)
  const done = Promise.all(clients.map(workload))
  await sim.runForAsync(3200)
  await done
  return { ...checkLinearizable(recorder.history()), completed }
}

describe('example: a replicated register under partitions', () => {
  it('ABD with quorum reads and write-back is linearizable on every seed', async () => {
    await runSeeds('ABD register', { count: 8 }, async (seed) => {
      const result = await runRegister(seed, true)
      expect(result.completed).toBeGreaterThan(10)
      expect(result.outcome, result.failure && formatHistory(result.failure.operations)).toBe('linearizable')
    })
  })

  it('reading from a single replica is caught as not linearizable', async () => {
    const verdicts: string[] = []
    for (let seed = 1; seed <= 8; seed++) verdicts.push((await runRegister(seed, false)).outcome)
    expect(verdicts).toContain('not-linearizable')
  })
})
