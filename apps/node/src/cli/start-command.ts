import { toError } from '@socketcloud/core'
import { banner, startLocalCluster } from '../launcher/local-cluster'

export interface StartFlags {
  readonly nodes: string
  readonly dataDir: string
  readonly httpPort: string
  readonly peerPort: string
  readonly logLevel: string
}

/**
 * `socketcloud start`: a local cluster of node processes on 127.0.0.1 until Ctrl-C, which stops
 * them all cleanly. Starting again in the same directory reuses the identities and the data.
 */
export async function runLocalCluster(flags: StartFlags, cliPath: string): Promise<void> {
  const nodes = Number(flags.nodes)
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) {
    process.stderr.write(`socketcloud start: --nodes must be an integer from 1 to 9, got ${flags.nodes}\n`)
    process.exit(2)
  }
  process.stdout.write(`Starting ${nodes} SocketCloud nodes (data in ${flags.dataDir}/) …\n`)
  let cluster
  try {
    cluster = await startLocalCluster({
      nodes,
      dataDir: flags.dataDir,
      ports: (index) => ({ http: Number(flags.httpPort) + index, peer: Number(flags.peerPort) + index }),
      nodeCommand: [process.execPath, ...process.execArgv, cliPath],
      logLevel: flags.logLevel,
      out: process.stdout,
    })
  } catch (error) {
    process.stderr.write(
      `socketcloud start: ${toError(error).message} (logs: ${flags.dataDir}/node-*/node.log)\n`,
    )
    process.exit(1)
  }
  process.stdout.write(banner(cluster, flags.dataDir))
  const running = cluster
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    process.stdout.write('\nStopping the cluster …\n')
    running.stop().then(
      () => {
        process.stdout.write('Stopped.\n')
        process.exit(0)
      },
      (error: unknown) => {
        process.stderr.write(`socketcloud start: ${toError(error).message}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  for (const node of running.nodes) {
    node.exited.then(
      (code) => {
        if (!stopping) process.stdout.write(`[node-${node.index}] exited with code ${code}\n`)
      },
      (error: unknown) => process.stderr.write(`[node-${node.index}] ${toError(error).message}\n`),
    )
  }
}
