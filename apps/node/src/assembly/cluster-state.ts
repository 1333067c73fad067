import { readFile, rename, writeFile, open } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError, NodeId, expectArray, expectRecord, expectString } from '@socketcloud/core'

/** What this node knows of its cluster outside the Raft log, so that a restart can reconnect. */
export interface ClusterState {
  /**
   * The founding voters when this node founded the cluster (its engine starts from them until its
   * log carries a configuration); empty for a node that joined (it learns the configuration from
   * the leader's log). The file exists only once the node is a member either way.
   */
  readonly founders: readonly string[]
  /** Every member it knows of, with the address to dial; the replicated directory is the source. */
  readonly members: readonly KnownMember[]
}

export interface KnownMember {
  readonly id: string
  readonly address: string
  readonly api: string | null
}

const FILE = 'cluster.json'
const MEMBERS_MAX = 10_000

export async function readClusterState(dataDir: string): Promise<ClusterState | undefined> {
  let text: string
  try {
    text = await readFile(join(dataDir, FILE), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  try {
    const record = expectRecord(JSON.parse(text), 'cluster')
    return {
      founders: expectArray(record['founders'], 'cluster.founders', MEMBERS_MAX).map((raw, index) => {
        const id = expectString(raw, `cluster.founders[${index}]`, 64)
        NodeId.fromHex(id)
        return id
      }),
      members: expectArray(record['members'], 'cluster.members', MEMBERS_MAX).map((raw, index) => {
        const member = expectRecord(raw, `cluster.members[${index}]`)
        const id = expectString(member['id'], `cluster.members[${index}].id`, 64)
        NodeId.fromHex(id)
        const api = member['api']
        return {
          id,
          address: expectString(member['address'], `cluster.members[${index}].address`, 2048),
          api: api === null ? null : expectString(api, `cluster.members[${index}].api`, 2048),
        }
      }),
    }
  } catch (error) {
    throw new ConfigError(`${join(dataDir, FILE)} is corrupt: ${(error as Error).message}`, {
      path: join(dataDir, FILE),
    })
  }
}

/** Replaces the file atomically (write, fsync, rename), so a crash leaves the old or the new state. */
export async function writeClusterState(dataDir: string, state: ClusterState): Promise<void> {
  const path = join(dataDir, FILE)
  const temporary = `${path}.tmp`
  await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`)
  const handle = await open(temporary, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temporary, path)
}
