import { SocketCloudClient, isClientError } from '@socketcloud/client'
import { toError } from '@socketcloud/core'
import type { Command } from 'commander'
import { registerTokenCommands } from './token-commands'

interface ClientFlags {
  readonly endpoint?: string
  readonly token?: string
}

const DEFAULT_ENDPOINT = 'http://127.0.0.1:7070'

function client(command: Command): SocketCloudClient {
  const flags = command.optsWithGlobals<ClientFlags>()
  const endpoints = (flags.endpoint ?? process.env['SOCKETCLOUD_ENDPOINT'] ?? DEFAULT_ENDPOINT)
    .split(',')
    .map((endpoint) => endpoint.trim())
    .filter((endpoint) => endpoint !== '')
  const token = flags.token ?? process.env['SOCKETCLOUD_TOKEN']
  return new SocketCloudClient({ endpoints, ...(token ? { token } : {}) })
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

function integer(text: string, name: string): number {
  const value = Number(text)
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(text)}`)
  return value
}

/** Runs a client call and turns its typed error into one readable line and exit code 1. */
function run(body: (command: Command, ...args: string[]) => Promise<void>) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command
    try {
      await body(command, ...(args.slice(0, -2) as string[]))
    } catch (error) {
      if (isClientError(error)) {
        const outcome = error.outcome === 'unknown' ? ' (the write may or may not have applied)' : ''
        process.stderr.write(`socketcloud: ${error.code}: ${error.message}${outcome}\n`)
      } else {
        process.stderr.write(`socketcloud: ${toError(error).message}\n`)
      }
      process.exitCode = 1
    }
  }
}

/** `kv`, `counter`, `lock`, `cluster`, `watch` and `token` commands against a node's API. */
export function registerClientCommands(program: Command): void {
  program
    .option(
      '-e, --endpoint <urls>',
      `node API URL(s), comma-separated (env SOCKETCLOUD_ENDPOINT; default ${DEFAULT_ENDPOINT})`,
    )
    .option('--token <token>', 'capability token (env SOCKETCLOUD_TOKEN)')

  const kv = program.command('kv').description('key-value store')
  kv.command('get <key>')
    .description('print the value (raw bytes) of a key')
    .option('--stale', 'read the contacted node’s replica instead of a linearizable read')
    .action(
      run(async (command, key) => {
        const entry = await client(command).kv.get(key!, {
          consistency: command.opts().stale ? 'stale' : 'linearizable',
        })
        if (entry === null) {
          process.stderr.write(`socketcloud: not_found: ${key} has no value\n`)
          process.exitCode = 1
          return
        }
        process.stdout.write(entry.value)
        if (process.stdout.isTTY) process.stdout.write(`\n(revision ${entry.revision})\n`)
      }),
    )
  kv.command('put <key> <value>')
    .description('set a key; --prev-revision makes it a compare-and-set (0: only if absent)')
    .option('--prev-revision <revision>', 'expected mod revision')
    .action(
      run(async (command, key, value) => {
        const prev = command.opts().prevRevision as string | undefined
        print(
          await client(command).kv.put(
            key!,
            value!,
            prev === undefined ? {} : { prevRevision: integer(prev, '--prev-revision') },
          ),
        )
      }),
    )
  kv.command('del <key>')
    .description('delete a key')
    .option('--prev-revision <revision>', 'expected mod revision')
    .action(
      run(async (command, key) => {
        const prev = command.opts().prevRevision as string | undefined
        const result = await client(command).kv.delete(
          key!,
          prev === undefined ? {} : { prevRevision: integer(prev, '--prev-revision') },
        )
        if (result === null) {
          process.stderr.write(`socketcloud: not_found: ${key} has no value\n`)
          process.exitCode = 1
          return
        }
        print(result)
      }),
    )
  kv.command('list [prefix]')
    .description('list keys under a prefix (values as UTF-8 text)')
    .option('--limit <n>', 'at most this many keys', '100')
    .action(
      run(async (command, prefix) => {
        const result = await client(command).kv.list({
          prefix: prefix ?? '',
          limit: integer(command.opts().limit as string, '--limit'),
        })
        print({
          revision: result.revision,
          more: result.more,
          kvs: result.kvs.map((entry) => ({ ...entry, value: Buffer.from(entry.value).toString('utf8') })),
        })
      }),
    )

  const counter = program.command('counter').description('named counters')
  counter
    .command('add <name> <delta>')
    .description('add delta (may be negative) and print the new value')
    .action(
      run(async (command, name, delta) =>
        print({ value: await client(command).counter.add(name!, integer(delta!, 'delta')) }),
      ),
    )
  counter
    .command('get <name>')
    .description('print the value')
    .action(run(async (command, name) => print({ value: await client(command).counter.get(name!) })))

  const lock = program.command('lock').description('leased locks with fencing tokens')
  lock
    .command('acquire <name>')
    .requiredOption('--owner <owner>', 'who takes the lock')
    .option('--ttl-ms <ms>', 'lease length', '10000')
    .action(
      run(async (command, name) => {
        const { owner, ttlMs } = command.opts<{ owner: string; ttlMs: string }>()
        print(await client(command).lock.acquire(name!, { owner, ttlMs: integer(ttlMs, '--ttl-ms') }))
      }),
    )
  lock
    .command('renew <name>')
    .requiredOption('--owner <owner>', 'the holder')
    .requiredOption('--fencing-token <token>', 'the holder’s fencing token')
    .option('--ttl-ms <ms>', 'new lease length', '10000')
    .action(
      run(async (command, name) => {
        const { owner, fencingToken, ttlMs } = command.opts<{
          owner: string
          fencingToken: string
          ttlMs: string
        }>()
        print(
          await client(command).lock.renew(name!, {
            owner,
            fencingToken: integer(fencingToken, '--fencing-token'),
            ttlMs: integer(ttlMs, '--ttl-ms'),
          }),
        )
      }),
    )
  lock
    .command('release <name>')
    .requiredOption('--owner <owner>', 'the holder')
    .requiredOption('--fencing-token <token>', 'the holder’s fencing token')
    .action(
      run(async (command, name) => {
        const { owner, fencingToken } = command.opts<{ owner: string; fencingToken: string }>()
        await client(command).lock.release(name!, {
          owner,
          fencingToken: integer(fencingToken, '--fencing-token'),
        })
        print({ released: true })
      }),
    )

  const cluster = program.command('cluster').description('membership and leadership')
  cluster
    .command('status')
    .description('leader, term, commit index and every member')
    .action(run(async (command) => print(await client(command).cluster.status())))
  cluster
    .command('add <id> <address>')
    .description('add a node (as a learner, promoted to voter once caught up unless --learner)')
    .option('--api <url>', 'the node’s API URL')
    .option('--learner', 'keep it a non-voting learner')
    .action(
      run(async (command, id, address) => {
        const { api, learner } = command.opts<{ api?: string; learner?: boolean }>()
        print(
          await client(command).cluster.addMember({
            id: id!,
            address: address!,
            ...(api ? { api } : {}),
            voter: !learner,
          }),
        )
      }),
    )
  cluster
    .command('remove <id>')
    .description('remove a member')
    .action(run(async (command, id) => print({ removed: await client(command).cluster.removeMember(id!) })))
  cluster
    .command('transfer-leader')
    .description('hand leadership to another voter')
    .option('--to <id>', 'the voter to hand it to (default: the most caught-up)')
    .action(
      run(async (command) => {
        const { to } = command.opts<{ to?: string }>()
        print({ leader: await client(command).cluster.transferLeader(to ? { to } : {}) })
      }),
    )

  program
    .command('watch [prefix]')
    .description('print every put and delete under a prefix as JSON lines, until Ctrl-C')
    .option('--from-revision <revision>', 'replay from this revision')
    .action(
      run(async (command, prefix) => {
        const from = command.opts().fromRevision as string | undefined
        const abort = new AbortController()
        process.once('SIGINT', () => abort.abort())
        const watch = client(command).watch(prefix ?? '', {
          ...(from === undefined ? {} : { fromRevision: integer(from, '--from-revision') }),
          signal: abort.signal,
        })
        for await (const event of watch)
          process.stdout.write(
            `${JSON.stringify(event, (_, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v))}\n`,
          )
      }),
    )

  registerTokenCommands(program)
}
