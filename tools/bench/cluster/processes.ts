import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePorts } from '@socketcloud/node'

const here = dirname(fileURLToPath(import.meta.url))

export { freePorts }

export function temporaryDirectory(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export interface HttpResult {
  status: number
  body: string
}

export function httpCall(
  agent: Agent,
  method: string,
  url: string,
  body?: string | Buffer,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const call = request(url, {
      method,
      agent,
      headers: body ? { 'content-length': Buffer.byteLength(body) } : {},
    })
    call.setTimeout(15_000, () => call.destroy(new Error(`${method} ${url} timed out`)))
    call.on('response', (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      )
      response.on('error', reject)
    })
    call.on('error', reject)
    call.end(body)
  })
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      lastError = error
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`)
}

export function startOurNode(
  index: number,
  dataDir: string,
  httpPort: number,
  raftPorts: number[],
  /** Another checkout whose `tools/bench/cluster/node.ts` (and packages) to run instead of this one's. */
  tree?: string,
): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      // Diagnostic: extra Node/V8 flags for the nodes (some, like GC flags, are refused in NODE_OPTIONS).
      ...(process.env.SOCKETCLOUD_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== ''),
      ...(process.env.SOCKETCLOUD_NODE_PROFILE_DIR
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SOCKETCLOUD_NODE_PROFILE_DIR}`]
        : []),
      '--conditions=@socketcloud/source',
      '--import',
      'tsx',
      tree ? join(tree, 'tools/bench/cluster/node.ts') : join(here, 'node.ts'),
      String(index),
      dataDir,
      String(httpPort),
      raftPorts.join(','),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], ...(tree ? { cwd: tree } : {}) },
  )
  return child
}

export function ensureEtcd(log: (message: string) => void): string {
  const found = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' })
  if (found.status === 0) return found.stdout.trim()
  log('etcd not found: installing Debian etcd-server with apt-get')
  const install = spawnSync(
    'sh',
    ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server'],
    {
      stdio: 'inherit',
    },
  )
  if (install.status !== 0)
    throw new Error('could not install etcd-server (needs root and the Debian registry)')
  return 'etcd'
}

export function startEtcdMember(
  binary: string,
  index: number,
  dataDir: string,
  clientPorts: number[],
  peerPorts: number[],
): ChildProcess {
  const name = `m${index}`
  const cluster = peerPorts.map((port, i) => `m${i}=http://127.0.0.1:${port}`).join(',')
  return spawn(
    binary,
    [
      '--name',
      name,
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      `http://127.0.0.1:${clientPorts[index]}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${clientPorts[index]}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPorts[index]}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peerPorts[index]}`,
      '--initial-cluster',
      cluster,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      'socketcloud-bench',
      '--logger',
      'zap',
      '--log-level',
      'error',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
}

export async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await once(child, 'exit')
      clearTimeout(timer)
    }),
  )
}

/** CPU time (user + system, all threads) and context switches of a running child, from /proc (Linux only). */
export interface ProcessUsage {
  readonly cpuMicroseconds: number
  readonly contextSwitches: number
}

const CLOCK_TICKS_PER_SECOND = 100

export function processUsage(children: readonly ChildProcess[]): ProcessUsage | null {
  let cpuMicroseconds = 0
  let contextSwitches = 0
  try {
    for (const child of children) {
      if (child.pid === undefined) return null
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8')
      // Fields after the command name (which may contain spaces) start at field 3.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      cpuMicroseconds += ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SECOND
      for (const task of readdirSync(`/proc/${child.pid}/task`)) {
        const status = readFileSync(`/proc/${child.pid}/task/${task}/status`, 'utf8')
        for (const match of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm))
          contextSwitches += Number(match[1])
      }
    }
  } catch {
    return null
  }
  return { cpuMicroseconds, contextSwitches }
}

/** A three-member etcd cluster in a temporary directory, with the leader's client port found. */
export async function startEtcdCluster(
  log: (message: string) => void,
): Promise<{ members: ChildProcess[]; leaderPort: number; stop: () => Promise<void> }> {
  const binary = ensureEtcd(log)
  const directory = temporaryDirectory('socketcloud-bench-etcd-')
  const clientPorts = await freePorts(3)
  const peerPorts = await freePorts(3)
  const members = clientPorts.map((_, i) =>
    startEtcdMember(binary, i, `${directory.path}/m${i}`, clientPorts, peerPorts),
  )
  const stop = async () => {
    await stopAll(members)
    directory.remove()
  }
  try {
    const probe = new Agent({ keepAlive: false })
    const leaderPort = await waitFor('an etcd leader', 30_000, async () => {
      for (const port of clientPorts) {
        const reply = await httpCall(probe, 'POST', `http://127.0.0.1:${port}/v3/maintenance/status`, '{}')
        const status = JSON.parse(reply.body) as { leader?: string; header?: { member_id?: string } }
        if (status.leader && status.leader === status.header?.member_id) return port
      }
      return undefined
    })
    return { members, leaderPort, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
