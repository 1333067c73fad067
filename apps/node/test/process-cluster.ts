import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import {
  prepareLocalNodes,
  spawnLocalNode,
  stopLocalNodes,
  waitForLeader,
  type LocalNodeProcess,
  type LocalNodeSpec,
} from '../src/launcher/local-cluster'
import { freePorts } from '../src/launcher/ports'

const here = dirname(fileURLToPath(import.meta.url))

/**
 * The node command for tests: the CLI from source through tsx, with sibling packages resolved from
 * source too, so the tests need no build.
 */
export const SOURCE_NODE_COMMAND = [
  process.execPath,
  '--conditions=@socketcloud/source',
  '--import',
  'tsx',
  join(here, '..', 'src', 'cli.ts'),
] as const

/**
 * A cluster of real node processes on 127.0.0.1 in a temporary directory, for tests: kill one with
 * SIGKILL, restart it on the same data, add a node that joins, and read every node's output.
 */
export class ProcessCluster {
  readonly nodes: LocalNodeProcess[] = []
  readonly output = new PassThrough()
  private outputText = ''
  private readonly extra: LocalNodeSpec[] = []

  private constructor(
    readonly root: string,
    readonly specs: LocalNodeSpec[],
    private readonly env: Readonly<Record<string, string>>,
  ) {
    this.output.on('data', (chunk: Buffer) => {
      // Kept for failure messages; bounded so a chatty run cannot grow it without limit.
      this.outputText = (this.outputText + chunk.toString()).slice(-64 * 1024)
    })
  }

  static async start(size: number, env: Readonly<Record<string, string>> = {}): Promise<ProcessCluster> {
    const root = mkdtempSync(join(tmpdir(), 'socketcloud-node-test-'))
    const ports = await freePorts(size * 2)
    const specs = await prepareLocalNodes({
      nodes: size,
      dataDir: root,
      ports: (index) => ({ http: ports[index * 2]!, peer: ports[index * 2 + 1]! }),
    })
    const cluster = new ProcessCluster(root, specs, env)
    for (const spec of specs) cluster.nodes.push(cluster.spawn(spec))
    await cluster.leader()
    return cluster
  }

  spawn(spec: LocalNodeSpec, extraArgs: readonly string[] = []): LocalNodeProcess {
    return spawnLocalNode(
      spec,
      { nodeCommand: SOURCE_NODE_COMMAND, logLevel: 'warn', out: this.output, env: this.env },
      extraArgs,
    )
  }

  /** The leader all running nodes agree on. */
  async leader(timeoutMs = 60_000): Promise<LocalNodeProcess> {
    const running = this.nodes.filter(
      (node) => node.child.exitCode === null && node.child.signalCode === null,
    )
    const id = await waitForLeader(running, timeoutMs)
    const leader = running.find((node) => node.id === id)
    if (!leader) throw new Error(`the leader ${id} is not one of the running nodes`)
    return leader
  }

  /** SIGKILL: no drain, no flush beyond what was fsynced. */
  async kill(node: LocalNodeProcess): Promise<void> {
    node.child.kill('SIGKILL')
    await node.exited
  }

  /** Stops a node for good (SIGTERM) and forgets it: a removed member. */
  async retire(node: LocalNodeProcess): Promise<void> {
    await stopLocalNodes([node], 10_000)
    this.nodes.splice(this.nodes.indexOf(node), 1)
  }

  /** Starts the node again on the same data and ports. */
  restart(node: LocalNodeProcess): LocalNodeProcess {
    const index = this.nodes.indexOf(node)
    const restarted = this.spawn(node)
    this.nodes[index] = restarted
    return restarted
  }

  /** A new node that joins through `via`'s API. */
  async join(via: LocalNodeProcess): Promise<LocalNodeProcess> {
    const [http, peer] = await freePorts(2)
    const index = this.specs.length + this.extra.length
    const [spec] = await prepareLocalNodes({
      nodes: index + 1,
      dataDir: this.root,
      ports: () => ({ http: http!, peer: peer! }),
    }).then((all) => all.slice(index))
    const joiner = { ...spec!, peers: [] }
    this.extra.push(joiner)
    const node = this.spawn(joiner, ['--join', via.apiUrl])
    this.nodes.push(node)
    return node
  }

  get log(): string {
    return this.outputText
  }

  async stop(): Promise<void> {
    await stopLocalNodes(this.nodes, 10_000)
    rmSync(this.root, { recursive: true, force: true })
  }
}
