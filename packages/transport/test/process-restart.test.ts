/**
 * Goal: when a peer's process dies and a new process takes its place on the same address, the
 * connection comes back by itself, with no action from the application. Method: the peer is a
 * child process (fixtures/echo-node.ts) running a transport that echoes; it is killed with SIGKILL
 * (no graceful close, no goodbye) and started again on the same port with the same identity. The
 * parent waits on its transport's events only. Run for TCP and for UDP (where the death is noticed
 * by the idle timeout, since no connection breaks).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { counterMessage, createNode, nextEvent, readCounter, testNodeId, type Node } from './helpers'

const script = fileURLToPath(new URL('./fixtures/echo-node.ts', import.meta.url))
const children: ChildProcess[] = []
let parent: Node | undefined

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  await parent?.transport.close()
  parent = undefined
})

/** Starts the echo node and resolves with its bound address once it prints it. */
function startEchoNode(idHex: string, port: number): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(
    process.execPath,
    ['--conditions=@socketcloud/source', '--import', 'tsx', script, idHex, String(port)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  children.push(child)
  return new Promise((resolve, reject) => {
    let output = ''
    let errors = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /LISTENING (\S+)/.exec(output)
      if (match) resolve({ child, address: match[1]! })
    })
    child.stderr!.on('data', (chunk: Buffer) => {
      errors += chunk.toString()
    })
    child.once('exit', (code) => reject(new Error(`echo node exited with ${code}: ${errors}`)))
  })
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
}

const liveness = { keepaliveIntervalMs: 50, idleTimeoutMs: 300, handshakeTimeoutMs: 300 }

describe.each([
  { protocol: 'tcp', init: {} },
  { protocol: 'udp', init: liveness },
])('$protocol peer process restart', ({ protocol, init }) => {
  it('reconnects to a killed and restarted peer process on the same address', async () => {
    const peerId = testNodeId()
    const first = await startEchoNode(peerId.hex, `${protocol}://127.0.0.1:0`, init)
    parent = createNode({ reconnectDelayInitialMs: 20, reconnectDelayMaxMs: 200, ...init })
    const transport = parent.transport
    const peer = await transport.dial(first.address)
    expect(peer.equals(peerId)).toBe(true)

    const echoed = nextEvent(transport, 'message')
    expect(transport.send(peer, counterMessage(1)).ok).toBe(true)
    expect(readCounter((await echoed).bytes)).toBe(1)

    const disconnected = nextEvent(transport, 'peer:disconnect')
    const reconnecting = nextEvent(transport, 'peer:reconnecting')
    first.child.kill('SIGKILL')
    await exited(first.child)
    expect((await disconnected).peer.equals(peerId)).toBe(true)
    expect((await reconnecting).attempt).toBe(1)

    const reconnected = nextEvent(transport, 'peer:connect')
    const second = await startEchoNode(peerId.hex, first.address, init)
    expect(second.address).toBe(first.address)
    expect((await reconnected).peer.equals(peerId)).toBe(true)

    const echoedAgain = nextEvent(transport, 'message')
    expect(transport.send(peer, counterMessage(2)).ok).toBe(true)
    expect(readCounter((await echoedAgain).bytes)).toBe(2)
  })
})
