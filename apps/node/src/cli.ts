#!/usr/bin/env node
import { Command } from 'commander'
import { toError } from '@socketcloud/core'
import type { NodeFlags } from './cli/node-command'
import type { StartFlags } from './cli/start-command'
import { registerClientCommands } from './cli/client-commands'

// The node and the launcher load every protocol package; client commands need none of them, so the
// heavy modules are imported only by the commands that use them (a client command starts fast).

const program = new Command()
  .name('socketcloud')
  .description('SocketCloud: an encrypted, Raft-replicated key-value, counter and lock service')
  .showHelpAfterError()

program
  .command('start')
  .description('start a local cluster of node processes on 127.0.0.1 (Ctrl-C stops them)')
  .option('-n, --nodes <count>', 'how many nodes', '3')
  .option('--data-dir <dir>', 'root of the nodes’ data', '.socketcloud')
  .option('--http-port <port>', 'HTTP port of the first node; the others follow', '7070')
  .option('--peer-port <port>', 'node-to-node port of the first node; the others follow', '7170')
  .option('--log-level <level>', 'log level of the nodes', 'info')
  .action(async (flags: StartFlags) => {
    const { runLocalCluster } = await import('./cli/start-command')
    await runLocalCluster(flags, process.argv[1]!)
  })

program
  .command('node')
  .description('run one node (settings: --config file < SOCKETCLOUD_* environment < flags)')
  .option('-c, --config <file>', 'JSON config file')
  .option('--data-dir <dir>', 'identity, Raft log and snapshots')
  .option('--listen <address>', 'node-to-node address, e.g. tcp://127.0.0.1:7170')
  .option('--advertise <address>', 'address the other members dial (default: the listen address)')
  .option('--http <host:port>', 'HTTP API address, e.g. 127.0.0.1:7070')
  .option('--peers <list>', 'founding members: <node id>@tcp://host:port, comma-separated')
  .option('--join <url>', 'API URL of a member of an existing cluster to join')
  .option('--join-token <token>', 'capability token for joining a cluster with access control')
  .option('--root-public-key <hex>', 'require capability tokens rooted in this ed25519 key')
  .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent')
  .action(async (flags: NodeFlags) => {
    const { runNode } = await import('./cli/node-command')
    await runNode(flags)
  })

program
  .command('id')
  .description('print the node id of a data directory (creating the identity on first use)')
  .requiredOption('--data-dir <dir>', 'the node’s data directory')
  .action(async (flags: { dataDir: string }) => {
    const { nodeIdentity } = await import('./assembly/node')
    process.stdout.write(`${(await nodeIdentity(flags.dataDir)).nodeId.hex}\n`)
  })

registerClientCommands(program)

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`socketcloud: ${toError(error).message}\n`)
  process.exit(1)
})
