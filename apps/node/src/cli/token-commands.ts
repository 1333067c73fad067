import { NodeId, toError } from '@socketcloud/core'
import type { CapabilityClaims } from '@socketcloud/security'
import type { Command } from 'commander'

interface ClaimFlags {
  readonly key: string
  readonly audience: string
  readonly resource: string
  readonly ability: string[]
  readonly ttl: string
  readonly parent?: string
}

const DURATION = /^(\d+)(ms|s|m|h|d)$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

function durationMs(text: string): number {
  const match = DURATION.exec(text)
  if (!match) throw new Error(`--ttl must look like 30s, 15m, 12h or 7d, got ${JSON.stringify(text)}`)
  return Number(match[1]) * UNIT_MS[match[2]!]!
}

function claims(flags: ClaimFlags): CapabilityClaims {
  const now = Date.now()
  return {
    audience: NodeId.fromHex(flags.audience),
    resource: flags.resource,
    abilities: flags.ability,
    caveats: {},
    notBeforeMs: now - 60_000,
    expiresMs: now + durationMs(flags.ttl),
    quorum: undefined,
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value]

function withClaimOptions(command: Command): Command {
  return command
    .requiredOption('--key <file>', 'the signing identity’s key file')
    .requiredOption('--audience <id>', 'node id of the holder (`socketcloud id` / `token keygen` prints it)')
    .requiredOption('--resource <pattern>', 'e.g. kv/app/* (a prefix ends in *), counter/*, lock/jobs')
    .requiredOption(
      '--ability <ability>',
      'e.g. kv/read, kv/write, counter/*, lock/*, cluster/admin (repeat)',
      collect,
    )
    .option('--ttl <duration>', 'lifetime: 30s, 15m, 12h, 7d', '24h')
}

function fail(error: unknown): void {
  process.stderr.write(`socketcloud token: ${toError(error).message}\n`)
  process.exitCode = 1
}

/** `token keygen|issue|delegate`: capability tokens for clusters started with a root public key. */
export function registerTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('capability tokens (for clusters with --root-public-key)')
  token
    .command('keygen')
    .description('create an ed25519 key file (mode 0600) and print its public key and node id')
    .requiredOption('--out <file>', 'where to write the key')
    .action(async (flags: { out: string }) => {
      try {
        const { loadOrCreateIdentity } = await import('@socketcloud/security')
        const identity = await loadOrCreateIdentity(flags.out)
        process.stdout.write(
          `${JSON.stringify({ publicKey: Buffer.from(identity.publicKey).toString('hex'), id: identity.nodeId.hex }, null, 2)}\n`,
        )
      } catch (error) {
        fail(error)
      }
    })
  withClaimOptions(
    token.command('issue').description('issue a root token, signed by the cluster’s root key'),
  ).action(async (flags: ClaimFlags) => {
    try {
      const { defaultCryptoProvider, formatCapability, issueCapability, loadIdentity } =
        await import('@socketcloud/security')
      const root = await loadIdentity(flags.key)
      process.stdout.write(
        `${formatCapability(issueCapability(root, claims(flags), { provider: defaultCryptoProvider() }))}\n`,
      )
    } catch (error) {
      fail(error)
    }
  })
  withClaimOptions(
    token
      .command('delegate')
      .description('delegate a narrower token from one you hold (--key is its audience’s key)'),
  )
    .requiredOption('--parent <token>', 'the token being delegated')
    .action(async (flags: ClaimFlags) => {
      try {
        const { defaultCryptoProvider, delegateCapability, formatCapability, loadIdentity, parseCapability } =
          await import('@socketcloud/security')
        const holder = await loadIdentity(flags.key)
        const parent = parseCapability(flags.parent!)
        process.stdout.write(
          `${formatCapability(delegateCapability(holder, parent, claims(flags), { provider: defaultCryptoProvider() }))}\n`,
        )
      } catch (error) {
        fail(error)
      }
    })
}
