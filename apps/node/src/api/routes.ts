import { ConfigError, parseAddress } from '@socketcloud/core'
import type { Registry } from 'prom-client'
import type { ClientSession, NodeServices } from '../services/node-services'
import { ServiceError, badRequest, notFound } from '../services/service-error'
import type { Requirement } from './auth'
import type { ResolvedApiLimits } from './limits'
import type { QueryParams } from './validate'
import {
  NAME_BYTES_MAX,
  boundedString,
  checkName,
  decodeName,
  methodNotAllowed,
  parseJsonObject,
  parseSession,
  safeInteger,
} from './validate'

/** One HTTP request, read out of uWS before the handler's first await (uWS requests die after it). */
export interface ApiRequest {
  readonly method: string
  readonly rawPath: string
  readonly rawQuery: string | undefined
  readonly query: QueryParams
  readonly authorization: string
  readonly contentType: string
  readonly sessionId: string
  readonly sessionSeq: string
  /** Set when another node forwarded this request (admin calls are forwarded once, never twice). */
  readonly forwardedBy: string
  body: Uint8Array
}

export interface ApiResponse {
  readonly status: number
  readonly body: string | Uint8Array
  readonly contentType: string
  readonly headers?: Readonly<Record<string, string>>
}

export interface RouteContext {
  readonly services: NodeServices
  readonly registry: Registry
  readonly limits: ResolvedApiLimits
}

export interface MatchedRoute {
  /** The route pattern, for metrics labels. */
  readonly label: string
  readonly requirement: Requirement
  readonly hasBody: boolean
  /** Leader-only admin calls, forwarded by a follower to the leader's API. */
  readonly forwardable: boolean
  readonly handle: (request: ApiRequest) => Promise<ApiResponse>
}

const LOCK_TTL_MS_MAX = 3_600_000
const OWNER_BYTES_MAX = 256
const LIST_LIMIT_MAX = 10_000
const LIST_LIMIT_DEFAULT = 1_000
const NODE_ID = /^[0-9a-f]{64}$/

export function json(status: number, body: unknown, headers?: Readonly<Record<string, string>>): ApiResponse {
  return {
    status,
    body: JSON.stringify(body),
    contentType: 'application/json',
    ...(headers ? { headers } : {}),
  }
}

const ok = (body: unknown): ApiResponse => json(200, body)

interface RouteDefinition {
  readonly label: string
  readonly methods: Readonly<Record<string, () => Omit<MatchedRoute, 'label'>>>
}

/**
 * Finds the route for a method and raw (still percent-encoded) path and validates its path and query
 * parameters. Throws ServiceError: 404 `unknown_route`, 405 `method_not_allowed` (with the allowed
 * methods in `extra.allow`), 400 for a bad key, name or parameter.
 */
export function matchRoute(
  context: RouteContext,
  method: string,
  rawPath: string,
  query: QueryParams,
): MatchedRoute {
  const definition = findRoute(context, rawPath, query)
  if (!definition) {
    throw new ServiceError({ status: 404, error: 'unknown_route', message: `no route ${rawPath}` })
  }
  const build = definition.methods[method]
  if (!build) {
    const error = methodNotAllowed(Object.keys(definition.methods))
    throw new ServiceError({
      status: 405,
      error: error.error,
      message: error.message,
      extra: { allow: Object.keys(definition.methods).join(', ') },
    })
  }
  return { label: definition.label, ...build() }
}

function findRoute(context: RouteContext, rawPath: string, query: QueryParams): RouteDefinition | undefined {
  const { services } = context
  if (rawPath === '/health') {
    return {
      label: '/health',
      methods: {
        GET: () => ({
          requirement: { kind: 'none' },
          hasBody: false,
          forwardable: false,
          handle: async () => {
            const status = services.status()
            return ok({
              status: 'ok',
              id: services.localId.hex,
              role: services.role(),
              leader: status.leader,
            })
          },
        }),
      },
    }
  }
  if (rawPath === '/metrics') {
    return {
      label: '/metrics',
      methods: {
        GET: () => ({
          requirement: { kind: 'ability', ability: 'metrics/read', resource: 'metrics' },
          hasBody: false,
          forwardable: false,
          handle: async () => ({
            status: 200,
            body: await context.registry.metrics(),
            contentType: context.registry.contentType,
          }),
        }),
      },
    }
  }
  if (rawPath === '/v1/kv') return listRoute(context, query)
  if (rawPath.startsWith('/v1/kv/')) return keyRoute(context, rawPath.slice('/v1/kv/'.length), query)
  if (rawPath.startsWith('/v1/counters/'))
    return counterRoute(context, rawPath.slice('/v1/counters/'.length), query)
  if (rawPath.startsWith('/v1/locks/')) return lockRoute(context, rawPath.slice('/v1/locks/'.length), query)
  if (rawPath === '/v1/sessions') {
    return {
      label: '/v1/sessions',
      methods: {
        POST: () => ({
          requirement: { kind: 'any-valid' },
          hasBody: false,
          forwardable: false,
          handle: async () => ok({ session_id: await services.openSession() }),
        }),
      },
    }
  }
  if (rawPath === '/v1/cluster') return clusterRoute(context)
  if (rawPath === '/v1/cluster/members') return addMemberRoute(context)
  if (rawPath.startsWith('/v1/cluster/members/')) {
    return removeMemberRoute(context, rawPath.slice('/v1/cluster/members/'.length))
  }
  if (rawPath === '/v1/cluster/transfer-leader') return transferRoute(context)
  if (rawPath === '/v1/watch') {
    return {
      label: '/v1/watch',
      methods: {
        GET: () => ({
          requirement: { kind: 'none' },
          hasBody: false,
          forwardable: false,
          handle: async () => {
            throw new ServiceError({
              status: 426,
              error: 'bad_request',
              message: '/v1/watch is a WebSocket endpoint: send an Upgrade request',
              extra: {},
            })
          },
        }),
      },
    }
  }
  return undefined
}

function listRoute({ services, limits }: RouteContext, query: QueryParams): RouteDefinition {
  return {
    label: '/v1/kv',
    methods: {
      GET: () => {
        const prefix = parsePrefix(query.get('prefix'), limits.prefixBytesMax)
        const limit = query.integer('limit', 1, LIST_LIMIT_MAX) ?? LIST_LIMIT_DEFAULT
        const consistency = query.consistency()
        return {
          requirement: { kind: 'ability', ability: 'kv/read', resourcePattern: `kv/${prefix}*` },
          hasBody: false,
          forwardable: false,
          handle: async () => {
            const range = await services.kvList(prefix, limit, consistency)
            return ok({
              revision: range.revision,
              kvs: range.kvs.map((kv) => ({
                key: kv.key,
                value: Buffer.from(kv.value).toString('base64'),
                create_revision: kv.createRevision,
                mod_revision: kv.modRevision,
                version: kv.version,
              })),
              more: range.more,
            })
          },
        }
      },
    },
  }
}

/** A list or watch prefix: 0–prefixBytesMax bytes, no control characters. */
export function parsePrefix(prefix: string | undefined, prefixBytesMax: number): string {
  if (prefix === undefined) return ''
  checkName(prefix, 'bad_request', 'prefix', 0, prefixBytesMax)
  return prefix
}

function keyRoute({ services }: RouteContext, rawKey: string, query: QueryParams): RouteDefinition {
  const key = () => decodeName(rawKey, 'invalid_key', 'key')
  const resource = (name: string) => `kv/${name}`
  return {
    label: '/v1/kv/{key}',
    methods: {
      GET: () => {
        const name = key()
        const consistency = query.consistency()
        return {
          requirement: { kind: 'ability', ability: 'kv/read', resource: resource(name) },
          hasBody: false,
          forwardable: false,
          handle: async () => {
            const { kv, storeRevision } = await services.kvGet(name, consistency)
            if (kv === null) throw notFound(`no key ${JSON.stringify(name)}`)
            return {
              status: 200,
              body: kv.value,
              contentType: 'application/octet-stream',
              headers: {
                'X-Revision': String(kv.modRevision),
                'X-Create-Revision': String(kv.createRevision),
                'X-Version': String(kv.version),
                'X-Store-Revision': String(storeRevision),
              },
            }
          },
        }
      },
      PUT: () => {
        const name = key()
        const prevRevision = query.integer('prev_revision', 0)
        return {
          requirement: { kind: 'ability', ability: 'kv/write', resource: resource(name) },
          hasBody: true,
          forwardable: false,
          handle: async (request) => {
            return ok(await services.kvPut(name, request.body, writeOptions(request, prevRevision)))
          },
        }
      },
      DELETE: () => {
        const name = key()
        const prevRevision = query.integer('prev_revision', 0)
        return {
          requirement: { kind: 'ability', ability: 'kv/write', resource: resource(name) },
          hasBody: false,
          forwardable: false,
          handle: async (request) => {
            return ok(await services.kvDelete(name, writeOptions(request, prevRevision)))
          },
        }
      },
    },
  }
}

function counterRoute({ services }: RouteContext, rawName: string, query: QueryParams): RouteDefinition {
  const name = () => decodeName(rawName, 'invalid_name', 'counter name')
  return {
    label: '/v1/counters/{name}',
    methods: {
      GET: () => {
        const counter = name()
        const consistency = query.consistency()
        return {
          requirement: { kind: 'ability', ability: 'counter/read', resource: `counter/${counter}` },
          hasBody: false,
          forwardable: false,
          handle: async () => ok(await services.counterGet(counter, consistency)),
        }
      },
      POST: () => {
        const counter = name()
        return {
          requirement: { kind: 'ability', ability: 'counter/write', resource: `counter/${counter}` },
          hasBody: true,
          forwardable: false,
          handle: async (request) => {
            const body = parseJsonObject(request.body)
            const delta = safeInteger(body, 'delta', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
            return ok(await services.counterAdd(counter, delta, writeOptions(request)))
          },
        }
      },
    },
  }
}

const LOCK_ACTIONS = new Set(['acquire', 'renew', 'release'])

function lockRoute({ services }: RouteContext, rest: string, query: QueryParams): RouteDefinition {
  const slash = rest.lastIndexOf('/')
  const action = slash > 0 ? rest.slice(slash + 1) : ''
  if (LOCK_ACTIONS.has(action)) {
    const rawName = rest.slice(0, slash)
    const lockName = () => decodeName(rawName, 'invalid_name', 'lock name')
    return {
      label: `/v1/locks/{name}/${action}`,
      methods: {
        POST: () => {
          const name = lockName()
          return {
            requirement: { kind: 'ability', ability: 'lock/write', resource: `lock/${name}` },
            hasBody: true,
            forwardable: false,
            handle: async (request) => {
              const body = parseJsonObject(request.body)
              const owner = boundedString(body, 'owner', OWNER_BYTES_MAX)
              const options = writeOptions(request)
              if (action === 'acquire') {
                const ttlMs = safeInteger(body, 'ttl_ms', 1, LOCK_TTL_MS_MAX)
                const grant = await services.lockAcquire(name, owner, ttlMs, options)
                return ok({ fencing_token: grant.fencingToken, expires_at: grant.expiresAt })
              }
              const token = safeInteger(body, 'fencing_token', 1, Number.MAX_SAFE_INTEGER)
              if (action === 'renew') {
                const ttlMs = safeInteger(body, 'ttl_ms', 1, LOCK_TTL_MS_MAX)
                const grant = await services.lockRenew(name, owner, token, ttlMs, options)
                return ok({ fencing_token: grant.fencingToken, expires_at: grant.expiresAt })
              }
              return ok(await services.lockRelease(name, owner, token, options))
            },
          }
        },
      },
    }
  }
  return {
    label: '/v1/locks/{name}',
    methods: {
      GET: () => {
        const name = decodeName(rest, 'invalid_name', 'lock name')
        const consistency = query.consistency()
        return {
          requirement: { kind: 'ability', ability: 'lock/read', resource: `lock/${name}` },
          hasBody: false,
          forwardable: false,
          handle: async () => {
            const view = await services.lockGet(name, consistency)
            return ok({
              holder: view.holder,
              fencing_token: view.fencingToken,
              expires_at: view.expiresAt,
              now: view.now,
            })
          },
        }
      },
    },
  }
}

const ADMIN: Requirement = { kind: 'ability', ability: 'cluster/admin', resource: 'cluster', admin: true }

function clusterRoute({ services }: RouteContext): RouteDefinition {
  return {
    label: '/v1/cluster',
    methods: {
      GET: () => ({
        requirement: { kind: 'ability', ability: 'cluster/read', resource: 'cluster' },
        hasBody: false,
        forwardable: false,
        handle: async () => {
          const status = services.clusterStatus()
          return ok({
            id: status.id,
            leader: status.leader,
            term: status.term,
            commit_index: status.commitIndex,
            applied_index: status.appliedIndex,
            members: status.members,
          })
        },
      }),
    },
  }
}

function addMemberRoute({ services }: RouteContext): RouteDefinition {
  return {
    label: '/v1/cluster/members',
    methods: {
      POST: () => ({
        requirement: ADMIN,
        hasBody: true,
        forwardable: true,
        handle: async (request) => {
          const body = parseJsonObject(request.body)
          const id = nodeIdField(body['id'], 'id')
          const address = body['address']
          if (typeof address !== 'string') throw badRequest('field address must be a string')
          try {
            parseAddress(address)
          } catch (thrown) {
            throw badRequest(`field address: ${thrown instanceof ConfigError ? thrown.message : 'invalid'}`)
          }
          const api = body['api']
          if (api !== undefined && api !== null) {
            if (
              typeof api !== 'string' ||
              !/^https?:\/\/[^\s]+$/.test(api) ||
              api.length > 2048 ||
              !URL.canParse(api)
            ) {
              throw badRequest('field api must be an http(s) URL')
            }
          }
          const voter = body['voter']
          if (voter !== undefined && typeof voter !== 'boolean')
            throw badRequest('field voter must be a boolean')
          return ok(
            await services.addMember({
              id,
              address,
              api: typeof api === 'string' ? api : null,
              voter: voter ?? true,
            }),
          )
        },
      }),
    },
  }
}

function removeMemberRoute({ services }: RouteContext, rawId: string): RouteDefinition {
  return {
    label: '/v1/cluster/members/{id}',
    methods: {
      DELETE: () => {
        const id = nodeIdField(rawId, 'id')
        return {
          requirement: ADMIN,
          hasBody: false,
          forwardable: true,
          handle: async () => ok(await services.removeMember(id)),
        }
      },
    },
  }
}

function transferRoute({ services }: RouteContext): RouteDefinition {
  return {
    label: '/v1/cluster/transfer-leader',
    methods: {
      POST: () => ({
        requirement: ADMIN,
        hasBody: true,
        forwardable: true,
        handle: async (request) => {
          const body = request.body.length === 0 ? {} : parseJsonObject(request.body)
          const to =
            body['to'] === undefined || body['to'] === null ? undefined : nodeIdField(body['to'], 'to')
          return ok(await services.transferLeader(to))
        },
      }),
    },
  }
}

function nodeIdField(value: unknown, field: string): string {
  if (typeof value !== 'string' || !NODE_ID.test(value)) {
    throw badRequest(`${field} must be a node id: 64 lowercase hex digits`)
  }
  return value
}

export { NAME_BYTES_MAX }

/** The session headers of a write, and its compare-and-set revision when the route takes one. */
function writeOptions(
  request: ApiRequest,
  prevRevision?: number,
): { session?: ClientSession; prevRevision?: number } {
  const session = parseSession(request.sessionId, request.sessionSeq)
  return { ...(session ? { session } : {}), ...(prevRevision !== undefined ? { prevRevision } : {}) }
}
