import { decodeAddMember, decodeClusterStatus, decodeLeader, decodeRemoved } from './core/responses'
import type { ClusterStatus, MemberRole } from './core/responses'
import { encodeNameSegment } from './core/names'
import { checkText, invalidArgument, jsonBody } from './json-body'
import { callOptions } from './kv'
import { decodeJsonReply } from './requester'
import type { CallOptions, Requester } from './requester'

export interface AddMemberOptions extends CallOptions {
  /** The new node's id (hex). */
  readonly id: string
  /** Its node-to-node address, e.g. `tcp://127.0.0.1:7103`. */
  readonly address: string
  /** Its HTTP API URL, if it serves one. */
  readonly api?: string
  /** Promote to voter once caught up (default true); false keeps it a learner. */
  readonly voter?: boolean
}

/**
 * Membership and leadership: `client.cluster`. The admin calls are not covered by client sessions, so they
 * are retried only when the server says they were not applied.
 */
export class ClusterApi {
  constructor(private readonly requester: Requester) {}

  async status(options: CallOptions = {}): Promise<ClusterStatus> {
    const reply = await this.requester.send({
      ...callOptions(options),
      method: 'GET',
      path: '/v1/cluster',
      kind: 'read',
    })
    return decodeJsonReply(reply, decodeClusterStatus, 'not_applied')
  }

  /** Adds a node as a learner (promoted when `voter`); resolves with the role it has when the call returns. */
  async addMember(options: AddMemberOptions): Promise<{ id: string; role: MemberRole }> {
    const body: Record<string, unknown> = {
      id: checkText(options.id, 'id', 1024),
      address: checkText(options.address, 'address', 1024),
      voter: options.voter ?? true,
    }
    if (options.api !== undefined) body.api = checkText(options.api, 'api', 1024)
    if (typeof body.voter !== 'boolean') throw invalidArgument('voter must be a boolean')
    const reply = await this.requester.send({
      ...callOptions(options),
      method: 'POST',
      path: '/v1/cluster/members',
      body: jsonBody(body),
      contentType: 'application/json',
      kind: 'unsafe_write',
    })
    return decodeJsonReply(reply, decodeAddMember, 'applied')
  }

  /** Removes a member; rejects with code `not_member` when it is not one. Resolves with the removed id. */
  async removeMember(id: string, options: CallOptions = {}): Promise<string> {
    const reply = await this.requester.send({
      ...callOptions(options),
      method: 'DELETE',
      path: `/v1/cluster/members/${encodeNameSegment(checkText(id, 'id', 1024), 'name')}`,
      kind: 'unsafe_write',
    })
    return decodeJsonReply(reply, decodeRemoved, 'applied')
  }

  /** Hands leadership to `to` (default: the most caught-up voter); resolves with the new leader's id. */
  async transferLeader(options: CallOptions & { readonly to?: string } = {}): Promise<string> {
    const body = options.to === undefined ? {} : { to: checkText(options.to, 'to', 1024) }
    const reply = await this.requester.send({
      ...callOptions(options),
      method: 'POST',
      path: '/v1/cluster/transfer-leader',
      body: jsonBody(body),
      contentType: 'application/json',
      kind: 'unsafe_write',
    })
    return decodeJsonReply(reply, decodeLeader, 'applied')
  }
}
