import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { nodeIdentity } from '../assembly/node'

export interface LocalClusterOptions {
  /** How many node processes. */
  readonly nodes: number
  /** Root of the data; node i lives in `<dataDir>/node-<i>`. */
  readonly dataDir: string
  /** The HTTP and node-to-node ports of node `index`. */
  readonly ports: (index: number) => { readonly http: number; readonly peer: number }
  /** The command that runs one node: `[executable, ...args]`, to which `node --data-dir ...` is appended. */
  readonly nodeCommand: readonly string[]
  readonly logLevel: string
  /** Where the nodes' warnings and errors go. */
  readonly out: NodeJS.WritableStream
  /**
   * The least severe pino level echoed to `out` (40 warn, 50 error); read at every line, so a launcher
   * can stay quiet while nodes start (peers look failed until every process is up) and echo warnings
   * afterwards. @default 40
   */
  readonly echoLevel?: () => number
  /** How long to wait for a leader before giving up. @default 60 s */
  readonly startTimeoutMs?: number
}

export interface LocalNodeProcess extends LocalNodeSpec {
  readonly apiUrl: string
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
}

/** What a node process is started with; the same spec restarts it on the same data. */
export interface LocalNodeSpec {
  readonly index: number
  readonly id: string
  readonly dataDir: string
  readonly address: string
  readonly http: string
  /** Founding peers, `<id>@<address>`. */
  readonly peers: readonly string[]
}

export interface LocalCluster {
  readonly nodes: readonly LocalNodeProcess[]
  /** The leader every node agreed on when the cluster came up. */
  readonly leaderAtStart: string
  /** SIGTERM to every node, SIGKILL to any still running after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>
}

/**
 * Starts (or restarts, reusing the data) a cluster of node processes on 127.0.0.1: identities are
 * created first so that every node can be given the others' ids and addresses as founding peers.
 * Each node's JSON log goes to `<data>/node.log`; warnings and errors are echoed, prefixed.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const specs = await prepareLocalNodes(options)
  let started = false
  // While the processes start, peers look failed to each other; only errors are worth showing.
  const echoLevel = () => (started ? (options.echoLevel?.() ?? 40) : 50)
  const nodes = specs.map((spec) => spawnLocalNode(spec, { ...options, echoLevel }))
  const stop = (timeoutMs = 15_000) => stopLocalNodes(nodes, timeoutMs)
  try {
    const leaderAtStart = await waitForLeader(nodes, options.startTimeoutMs ?? 60_000)
    started = true
    return { nodes, leaderAtStart, stop }
  } catch (error) {
    await stop(2_000)
    throw error
  }
}

/** Creates (or reads) every node's identity, so that each can be given the others as founding peers. */
export async function prepareLocalNodes(
  options: Pick<LocalClusterOptions, 'nodes' | 'dataDir' | 'ports'>,
): Promise<LocalNodeSpec[]> {
  const root = resolve(options.dataDir)
  const bare = await Promise.all(
    Array.from({ length: options.nodes }, async (_, index) => {
      const dataDir = join(root, `node-${index}`)
      const identity = await nodeIdentity(dataDir)
      const ports = options.ports(index)
      return {
        index,
        dataDir,
        id: identity.nodeId.hex,
        address: `tcp://127.0.0.1:${ports.peer}`,
        http: `127.0.0.1:${ports.http}`,
      }
    }),
  )
  return bare.map((spec) => ({
    ...spec,
    peers: bare.filter((other) => other !== spec).map((other) => `${other.id}@${other.address}`),
  }))
}

/** Starts one node process from its spec; `extraArgs` go after the spec's flags (e.g. `--join`). */
export function spawnLocalNode(
  spec: LocalNodeSpec,
  options: Pick<LocalClusterOptions, 'nodeCommand' | 'logLevel' | 'out' | 'echoLevel'> & {
    readonly env?: Readonly<Record<string, string>>
  },
  extraArgs: readonly string[] = [],
): LocalNodeProcess {
  const [executable, ...args] = options.nodeCommand
  const child = spawn(
    executable!,
    [
      ...args,
      'node',
      '--data-dir',
      spec.dataDir,
      '--listen',
      spec.address,
      '--http',
      spec.http,
      ...(spec.peers.length > 0 ? ['--peers', spec.peers.join(',')] : []),
      '--log-level',
      options.logLevel,
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } },
  )
  const log = createWriteStream(join(spec.dataDir, 'node.log'), { flags: 'a' })
  echo(child, log, `node-${spec.index}`, options.out, options.echoLevel ?? (() => 40))
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)))
  return { ...spec, apiUrl: `http://${spec.http}`, child, exited }
}

/** SIGTERM to every running node, SIGKILL to those still running after `timeoutMs`. */
export async function stopLocalNodes(nodes: readonly LocalNodeProcess[], timeoutMs: number): Promise<void> {
  for (const node of nodes)
    if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGTERM')
  const killer = setTimeout(() => {
    for (const node of nodes)
      if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL')
  }, timeoutMs)
  await Promise.all(nodes.map((node) => node.exited))
  clearTimeout(killer)
}

function echo(
  child: ChildProcess,
  log: WriteStream,
  name: string,
  out: NodeJS.WritableStream,
  echoLevel: () => number,
): void {
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      log.write(`${line}\n`)
      let entry: { level?: number } | undefined
      try {
        entry = JSON.parse(line) as typeof entry
      } catch {
        // Not a log line (a crash trace on stderr): show it as is.
        out.write(`[${name}] ${line}\n`)
        return
      }
      if ((entry?.level ?? 0) >= echoLevel()) {
        const {
          level: _level,
          time: _time,
          pid: _pid,
          msg,
          error,
          ...context
        } = entry as Record<string, unknown>
        const details = Object.entries(context)
          .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
          .join(' ')
        out.write(
          `[${name}] ${String(msg ?? '')}${error ? `: ${String(error)}` : ''}${details ? ` (${details})` : ''}\n`,
        )
      }
    })
  }
  child.once('exit', () => log.end())
}

/** Resolves once every node answers /health and they agree on a leader. */
export async function waitForLeader(nodes: readonly LocalNodeProcess[], timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const exited = nodes.find((node) => node.child.exitCode !== null || node.child.signalCode !== null)
    if (exited)
      throw new Error(`node-${exited.index} exited with code ${exited.child.exitCode} while starting`)
    const leaders = await Promise.all(nodes.map((node) => leaderSeenBy(node.apiUrl)))
    const first = leaders[0]
    if (first && leaders.every((leader) => leader === first)) return first
    if (Date.now() > deadline) throw new Error(`no leader after ${timeoutMs} ms`)
    await new Promise((resolveWait) => setTimeout(resolveWait, 200))
  }
}

async function leaderSeenBy(apiUrl: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${apiUrl}/health`, { signal: AbortSignal.timeout(1_000) })
    if (!response.ok) return undefined
    const body = (await response.json()) as { leader?: unknown }
    return typeof body.leader === 'string' ? body.leader : undefined
  } catch {
    // Not listening yet: the node is still starting.
    return undefined
  }
}

/** The text printed once the cluster is up. */
export function banner(cluster: LocalCluster, dataDir: string): string {
  const leader = cluster.leaderAtStart
  const lines = [
    '',
    `SocketCloud local cluster: ${cluster.nodes.length} nodes on 127.0.0.1, data in ${dataDir}/`,
    '',
    ...cluster.nodes.map(
      (node) =>
        `  node-${node.index}  ${node.apiUrl}  peer ${node.address}  id ${node.id.slice(0, 16)}…${node.id === leader ? '  (leader)' : ''}`,
    ),
    '',
    'Try it:',
    `  curl -X PUT --data 'hello' ${cluster.nodes[0]!.apiUrl}/v1/kv/greeting`,
    `  curl ${cluster.nodes[cluster.nodes.length - 1]!.apiUrl}/v1/kv/greeting`,
    `  curl -X POST -d '{"delta":1}' ${cluster.nodes[0]!.apiUrl}/v1/counters/visits`,
    `  curl ${cluster.nodes[0]!.apiUrl}/v1/cluster`,
    '',
    `Ctrl-C stops all ${cluster.nodes.length}; the data stays in ${dataDir}/ for the next start.`,
    '',
  ]
  return lines.join('\n')
}
