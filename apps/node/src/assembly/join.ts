import {
  ConfigError,
  NodeId,
  SocketCloudError,
  expectArray,
  expectRecord,
  expectString,
  type Logger,
} from '@socketcloud/core'
import type { KnownMember } from './cluster-state'

export interface JoinRequest {
  /** API URL of any member. */
  readonly joinUrl: string
  /** Bearer token for clusters with access control. */
  readonly token?: string
  readonly self: KnownMember
  readonly logger: Logger
  /** Called for every existing member before the join is asked, so their connections are accepted. */
  readonly admit: (member: KnownMember) => void
  /** How long to keep trying (the cluster may be electing a leader). @default 60 s */
  readonly deadlineMs?: number
}

const ATTEMPT_TIMEOUT_MS = 15_000

/**
 * Joins an existing cluster through any member's API: learns the members (so their connections get
 * through this node's member gate), then asks to be added — as a learner that the leader promotes to
 * voter once it has caught up. A retried join of a node that is already a member succeeds.
 */
export async function joinCluster(request: JoinRequest): Promise<KnownMember[]> {
  const deadline = Date.now() + (request.deadlineMs ?? 60_000)
  let delayMs = 100
  for (;;) {
    try {
      const headers: Record<string, string> = request.token
        ? { authorization: `Bearer ${request.token}` }
        : {}
      const members = await fetchMembers(request.joinUrl, headers)
      for (const member of members) if (member.id !== request.self.id) request.admit(member)
      await askToJoin(request.joinUrl, request.self, headers)
      request.logger.info({ via: request.joinUrl }, 'joined the cluster')
      return [...members.filter((member) => member.id !== request.self.id), request.self]
    } catch (error) {
      if (error instanceof JoinRefused || error instanceof ConfigError || Date.now() + delayMs > deadline) {
        throw error
      }
      request.logger.warn({ error: (error as Error).message, retryInMs: delayMs }, 'join attempt failed')
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      delayMs = Math.min(delayMs * 2, 2_000)
    }
  }
}

/** The cluster answered and said no; retrying cannot help. */
export class JoinRefused extends SocketCloudError {
  constructor(message: string, context: Record<string, unknown>) {
    super('JOIN_REFUSED', message, context)
  }
}

async function fetchMembers(joinUrl: string, headers: Record<string, string>): Promise<KnownMember[]> {
  const response = await fetch(new URL('/v1/cluster', joinUrl), {
    headers,
    signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
  })
  const body: unknown = await response.json()
  if (!response.ok) throw refusalOrRetry(response.status, body)
  const record = expectRecord(body, 'cluster')
  return expectArray(record['members'], 'cluster.members', 10_000).map((raw, index) => {
    const member = expectRecord(raw, `members[${index}]`)
    const id = expectString(member['id'], `members[${index}].id`, 64)
    NodeId.fromHex(id)
    const api = member['api']
    return {
      id,
      address: expectString(member['address'], `members[${index}].address`, 2048),
      api: typeof api === 'string' ? api : null,
    }
  })
}

async function askToJoin(joinUrl: string, self: KnownMember, headers: Record<string, string>): Promise<void> {
  const response = await fetch(new URL('/v1/cluster/members', joinUrl), {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ id: self.id, address: self.address, api: self.api, voter: true }),
    signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS * 4),
  })
  const body: unknown = await response.json()
  if (response.ok) return
  if (response.status === 409 && errorCode(body) === 'member_exists') return
  throw refusalOrRetry(response.status, body)
}

function errorCode(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string'
    ? (body as { error: string }).error
    : undefined
}

function refusalOrRetry(status: number, body: unknown): Error {
  const detail = { status, error: errorCode(body), message: (body as { message?: unknown } | null)?.message }
  // 4xx other than 408/429 is the cluster's answer; 5xx and the rest are worth another try.
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return status === 401 || status === 403
      ? new JoinRefused(`the cluster refused the join: ${JSON.stringify(detail)}`, detail)
      : new ConfigError(`the join request was refused: ${JSON.stringify(detail)}`, detail)
  }
  return new Error(`join attempt failed: ${JSON.stringify(detail)}`)
}
