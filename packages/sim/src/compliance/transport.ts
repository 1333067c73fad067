import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict'
import { NodeId, TransportError } from '@socketcloud/core'
import type { Transport, TransportEvents } from '@socketcloud/core'
import { describe, it } from '@vitest/runner'
import { bytesOf, rejection, withSetup } from './harness'
import type { SetupFunction } from './harness'

/** One transport made by the harness, and the address it must listen on. */
export interface TransportUnderTest {
  readonly transport: Transport
  /** `mem://node-3`, `tcp://127.0.0.1:0`, ...: the transport reports the bound address from `listen`. */
  readonly listenAddress: string
}

/** What `runTransportTests` needs. */
export interface TransportHarness {
  /** A new transport for node `index` (0, 1, 2, ... within one test). It is closed by the suite. */
  create(index: number): TransportUnderTest | Promise<TransportUnderTest>
  /**
   * Lets the world run until `condition()` holds or `timeoutMs` passes; returns whether it held.
   * The default polls on real time (real sockets); the simulator runs its simulation instead.
   */
  waitUntil?(condition: () => boolean, timeoutMs: number): Promise<boolean>
  /** Size of the large message the transport must carry. @default 1 MiB */
  readonly largeMessageBytes?: number
  /** Messages `send` may accept in one burst before it must report BACKPRESSURE. @default 100_000 */
  readonly backpressureBurstMessagesMax?: number
  /** Timeout for each wait, in the harness's time. @default 10_000 */
  readonly timeoutMs?: number
}

async function pollUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  return true
}

interface Recorder {
  readonly messages: { from: NodeId; bytes: Uint8Array }[]
  readonly connects: TransportEvents['peer:connect'][]
  readonly disconnects: TransportEvents['peer:disconnect'][]
  drains: number
}

function record(transport: Transport): Recorder {
  const recorder: Recorder = { messages: [], connects: [], disconnects: [], drains: 0 }
  transport.events.on('message', (event) =>
    recorder.messages.push({ from: event.from, bytes: event.bytes.slice() }),
  )
  transport.events.on('peer:connect', (event) => recorder.connects.push(event))
  transport.events.on('peer:disconnect', (event) => recorder.disconnects.push(event))
  transport.events.on('drain', () => recorder.drains++)
  return recorder
}

interface World {
  readonly nodes: { transport: Transport; address: string; recorder: Recorder }[]
  until(condition: () => boolean, what: string): Promise<void>
  settle<T>(promise: Promise<T>, what: string): Promise<T>
  connect(from: number, to: number): Promise<NodeId>
}

function encodeCounter(value: number, size = 8): Uint8Array {
  const bytes = new Uint8Array(size)
  new DataView(bytes.buffer).setUint32(0, value)
  return bytes
}

function decodeCounter(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0)
}

/**
 * The Transport contract (core `transport.ts`) for every implementation: listen/dial identity,
 * in-order delivery, round trips, large messages, backpressure with `drain`, hang-up and close.
 * Each test creates its transports through the harness and closes them afterwards.
 */
export function runTransportTests(
  setup: SetupFunction<TransportHarness>,
  title = 'Transport compliance',
): void {
  const test = (
    name: string,
    nodeCount: number,
    body: (world: World, harness: TransportHarness) => Promise<void>,
  ) =>
    it(name, () =>
      withSetup(setup, async (harness) => {
        const timeoutMs = harness.timeoutMs ?? 10_000
        const waitUntil = harness.waitUntil?.bind(harness) ?? pollUntil
        const nodes: World['nodes'] = []
        try {
          const until = async (condition: () => boolean, what: string): Promise<void> => {
            ok(await waitUntil(condition, timeoutMs), `timed out waiting for ${what}`)
          }
          const settle = async <T>(promise: Promise<T>, what: string): Promise<T> => {
            let settled = false
            const tracked = promise.finally(() => {
              settled = true
            })
            // Handled here only while we wait; the caller receives the rejection from `return tracked`.
            tracked.catch(() => undefined)
            await until(() => settled, what)
            return tracked
          }
          for (let index = 0; index < nodeCount; index++) {
            const { transport, listenAddress } = await harness.create(index)
            const recorder = record(transport)
            const address = await settle(transport.listen(listenAddress), `listen on ${listenAddress}`)
            nodes.push({ transport, address, recorder })
          }
          const connect = async (from: number, to: number): Promise<NodeId> => {
            const source = nodes[from]!
            const target = nodes[to]!
            const peer = await settle(source.transport.dial(target.address), `dial ${from}->${to}`)
            await until(
              () => target.transport.connectedPeers().some((id) => id.equals(source.transport.localId)),
              `node ${to} to see node ${from} connected`,
            )
            return peer
          }
          await body({ nodes, until, settle, connect }, harness)
        } finally {
          for (const node of nodes) await node.transport.close()
        }
      }),
    )

  describe(title, () => {
    test('listen reports its address and dial resolves to the listener identity', 2, async (world) => {
      const [a, b] = world.nodes as [World['nodes'][0], World['nodes'][0]]
      ok(b.transport.listenAddresses().includes(b.address), 'listenAddresses() lacks the bound address')
      const peer = await world.connect(0, 1)
      ok(peer.equals(b.transport.localId), 'dial resolved to the wrong peer id')
      ok(
        a.transport.connectedPeers().some((id) => id.equals(b.transport.localId)),
        'dialer lacks the peer',
      )
      await world.until(
        () => a.recorder.connects.length > 0 && b.recorder.connects.length > 0,
        'peer:connect',
      )
      strictEqual(a.recorder.connects[0]!.direction, 'outbound')
      strictEqual(b.recorder.connects[0]!.direction, 'inbound')
      ok(
        a.recorder.connects[0]!.peer.equals(b.transport.localId),
        'outbound peer:connect names the wrong peer',
      )
      ok(
        b.recorder.connects[0]!.peer.equals(a.transport.localId),
        'inbound peer:connect names the wrong peer',
      )
    })

    test('dialling a connected peer again reuses the connection', 2, async (world) => {
      const [a] = world.nodes
      await world.connect(0, 1)
      const again = await world.settle(a!.transport.dial(world.nodes[1]!.address), 'second dial')
      ok(again.equals(world.nodes[1]!.transport.localId))
      strictEqual(a!.transport.connectedPeers().length, 1)
    })

    test('messages arrive whole and in order, in both directions', 2, async (world) => {
      const [a, b] = world.nodes as [World['nodes'][0], World['nodes'][0]]
      await world.connect(0, 1)
      const count = 200
      for (let i = 0; i < count; i++) {
        ok(a.transport.send(b.transport.localId, encodeCounter(i, 16 + (i % 50))).ok, `send ${i} a->b`)
        ok(b.transport.send(a.transport.localId, encodeCounter(i)).ok, `send ${i} b->a`)
      }
      await world.until(
        () => a.recorder.messages.length === count && b.recorder.messages.length === count,
        'messages',
      )
      deepStrictEqual(
        b.recorder.messages.map((m) => decodeCounter(m.bytes)),
        [...Array(count).keys()],
      )
      deepStrictEqual(
        a.recorder.messages.map((m) => decodeCounter(m.bytes)),
        [...Array(count).keys()],
      )
      deepStrictEqual(
        b.recorder.messages.map((m) => m.bytes.length),
        [...Array(count).keys()].map((i) => 16 + (i % 50)),
      )
      ok(
        b.recorder.messages.every((m) => m.from.equals(a.transport.localId)),
        'message from the wrong sender',
      )
    })

    test('request and response round trips between three nodes', 3, async (world) => {
      const [hub, ...spokes] = world.nodes as [World['nodes'][0], ...World['nodes']]
      for (const spoke of spokes)
        spoke.transport.events.on('message', ({ from, bytes }) => {
          spoke.transport.send(from, encodeCounter(decodeCounter(bytes) * 2))
        })
      await world.connect(1, 0)
      await world.connect(2, 0)
      for (let i = 1; i <= 20; i++)
        for (const spoke of spokes) hub.transport.send(spoke.transport.localId, encodeCounter(i))
      await world.until(() => hub.recorder.messages.length === 40, 'replies')
      for (const spoke of spokes) {
        const replies = hub.recorder.messages.filter((m) => m.from.equals(spoke.transport.localId))
        deepStrictEqual(
          replies.map((m) => decodeCounter(m.bytes)),
          [...Array(20).keys()].map((i) => (i + 1) * 2),
        )
      }
    })

    test('carries a large message intact', 2, async (world, harness) => {
      const [a, b] = world.nodes as [World['nodes'][0], World['nodes'][0]]
      await world.connect(0, 1)
      const large = bytesOf(harness.largeMessageBytes ?? 1024 * 1024, 42)
      ok(a.transport.send(b.transport.localId, large.slice()).ok, 'large send refused')
      await world.until(() => b.recorder.messages.length === 1, 'the large message')
      ok(Buffer.from(b.recorder.messages[0]!.bytes).equals(Buffer.from(large)), 'large message corrupted')
    })

    test('send to an unknown peer returns an error result instead of throwing', 1, async (world) => {
      const stranger = world.nodes[0]!.transport.localId.bytes.slice()
      stranger[0] = stranger[0]! ^ 0xff
      const result = world.nodes[0]!.transport.send(NodeId.fromBytes(stranger), new Uint8Array([1]))
      strictEqual(result.ok, false)
      if (!result.ok) ok(result.error instanceof TransportError, 'error is not a TransportError')
    })

    test(
      'a flood is refused with BACKPRESSURE, drains, and loses nothing accepted',
      2,
      async (world, harness) => {
        const [a, b] = world.nodes as [World['nodes'][0], World['nodes'][0]]
        await world.connect(0, 1)
        const burstMax = harness.backpressureBurstMessagesMax ?? 100_000
        let accepted = 0
        let refusal: TransportError | undefined
        while (accepted < burstMax) {
          const result = a.transport.send(b.transport.localId, encodeCounter(accepted, 1024))
          if (!result.ok) {
            refusal = result.error
            break
          }
          accepted++
        }
        ok(refusal !== undefined, `send accepted ${burstMax} messages without signalling backpressure`)
        strictEqual(refusal.code, 'BACKPRESSURE')
        await world.until(() => a.recorder.drains > 0, 'drain')
        await world.until(() => b.recorder.messages.length === accepted, `all ${accepted} accepted messages`)
        deepStrictEqual(
          b.recorder.messages.map((m) => decodeCounter(m.bytes)),
          [...Array(accepted).keys()],
        )
        ok(a.transport.send(b.transport.localId, encodeCounter(accepted)).ok, 'send refused after drain')
      },
    )

    test('hangUp disconnects both sides', 2, async (world) => {
      const [a, b] = world.nodes as [World['nodes'][0], World['nodes'][0]]
      await world.connect(0, 1)
      await world.settle(a.transport.hangUp(b.transport.localId), 'hangUp')
      await world.until(
        () => b.recorder.disconnects.length > 0 && a.recorder.disconnects.length > 0,
        'peer:disconnect',
      )
      await world.until(
        () => b.transport.connectedPeers().length === 0,
        'the listener to drop the connection',
      )
      strictEqual(a.transport.connectedPeers().length, 0)
      ok(b.recorder.disconnects[0]!.peer.equals(a.transport.localId))
      strictEqual(a.transport.send(b.transport.localId, new Uint8Array([1])).ok, false)
    })

    test('close ends every connection and refuses further use', 3, async (world) => {
      const [a, b, c] = world.nodes as [World['nodes'][0], World['nodes'][0], World['nodes'][0]]
      await world.connect(0, 1)
      await world.connect(0, 2)
      await world.settle(a.transport.close(), 'close')
      await world.until(
        () => b.recorder.disconnects.length > 0 && c.recorder.disconnects.length > 0,
        'peers to see the disconnect',
      )
      deepStrictEqual(a.transport.listenAddresses(), [])
      strictEqual(a.transport.send(b.transport.localId, new Uint8Array([1])).ok, false)
      const reason = await rejection(
        world.settle(a.transport.dial(b.address), 'dial after close'),
        'dial after close',
      )
      ok(reason instanceof TransportError, `dial after close rejected with ${String(reason)}`)
    })

    test('dialling an address nobody listens on rejects with TransportError', 2, async (world) => {
      const [a, b] = world.nodes as [World['nodes'][0], World['nodes'][0]]
      const address = b.address
      await world.settle(b.transport.close(), 'close')
      const reason = await rejection(
        world.settle(a.transport.dial(address), 'dial to a closed address'),
        'dial',
      )
      ok(reason instanceof TransportError, `rejected with ${String(reason)}`)
    })
  })
}
