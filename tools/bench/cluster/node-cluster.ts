import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { PassThrough } from 'node:stream'
import {
  freePorts,
  prepareLocalNodes,
  spawnLocalNode,
  stopLocalNodes,
  type LocalNodeProcess,
  type LocalNodeSpec,
} from '@socketcloud/node'
import type { BenchContext } from '../src/harness'
import { temporaryDirectory } from './processes'

/** The reference node's CLI from source (tsx), sibling packages from source: no build needed. */
function nodeCommand(): string[] {
  const require = createRequire(import.meta.url)
  const cli = join(dirname(require.resolve('@socketcloud/node/package.json')), 'src', 'cli.ts')
  return [process.execPath, '--conditions=@socketcloud/source', '--import', 'tsx', cli]
}

export interface NodeCluster {
  /** The running processes; `restart` replaces an entry. */
  readonly nodes: LocalNodeProcess[]
  /** Starts the node of `spec` again on its data (after a kill). */
  restart(spec: LocalNodeSpec): LocalNodeProcess
  stop(): Promise<void>
}

/**
 * `size` reference-node processes on 127.0.0.1 in a temporary directory (OS-chosen ports), their
 * warnings and errors in the benchmark's progress log.
 */
export async function startNodeCluster(ctx: BenchContext, size = 3): Promise<NodeCluster> {
  const directory = temporaryDirectory('socketcloud-bench-node-')
  const ports = await freePorts(size * 2)
  const specs = await prepareLocalNodes({
    nodes: size,
    dataDir: directory.path,
    ports: (index) => ({ http: ports[index * 2]!, peer: ports[index * 2 + 1]! }),
  })
  const out = new PassThrough()
  out.on('data', (chunk: Buffer) => ctx.log(chunk.toString().trimEnd()))
  const options = { nodeCommand: nodeCommand(), logLevel: 'warn', out }
  const nodes = specs.map((spec) => spawnLocalNode(spec, options))
  return {
    nodes,
    restart: (spec) => spawnLocalNode(spec, options),
    stop: async () => {
      await stopLocalNodes(nodes, 10_000)
      directory.remove()
    },
  }
}
