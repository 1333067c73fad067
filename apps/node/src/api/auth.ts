import { DecodeError, type Clock } from '@socketcloud/core'
import {
  Ed25519Verifier,
  defaultCryptoProvider,
  parseCapability,
  patternCovers,
  patternMatches,
  verifyCapability,
  type CapabilityToken,
  type CryptoProvider,
  type RevocationSet,
} from '@socketcloud/security'
import { ServiceError } from '../services/service-error'

export interface ApiAuthOptions {
  /** The cluster's root public key (ed25519, 32 bytes): the issuer every token chain starts from. */
  readonly rootPublicKey: Uint8Array
  readonly cryptoProvider?: CryptoProvider
  readonly revocations?: RevocationSet
  /**
   * `cluster/admin` calls need a token whose chain carries a quorum requirement (m-of-n approvals,
   * checked by verifyCapability), so no single key holder can change the membership. @default true
   */
  readonly adminQuorumRequired?: boolean
}

/**
 * What a call needs. `resource` is matched as a concrete value against the token's resource pattern;
 * `resourcePattern` (list and watch over a prefix) must be covered by it as a whole.
 */
export type Requirement =
  | { readonly kind: 'none' }
  | { readonly kind: 'any-valid' }
  | {
      readonly kind: 'ability'
      readonly ability: string
      readonly resource?: string
      readonly resourcePattern?: string
      readonly admin?: boolean
    }

/**
 * Capability checks of the HTTP API. Tokens are bearer tokens (`Authorization: Bearer sct1.…`):
 * whoever presents one acts as its leaf audience, so tokens must travel over TLS or a trusted link.
 *
 * Resource / ability mapping (a token with abilities `kv/*` on `kv/app/*` can read and write keys
 * under `app/`):
 *
 * | call                                  | resource                 | ability                  |
 * | ------------------------------------- | ------------------------ | ------------------------ |
 * | GET /v1/kv/{key}                      | `kv/{key}`               | `kv/read`                |
 * | PUT, DELETE /v1/kv/{key}              | `kv/{key}`               | `kv/write`               |
 * | GET /v1/kv?prefix=p, watch ?prefix=p  | covers `kv/{p}*`         | `kv/read`                |
 * | GET /v1/counters/{name}               | `counter/{name}`         | `counter/read`           |
 * | POST /v1/counters/{name}              | `counter/{name}`         | `counter/write`          |
 * | GET /v1/locks/{name}                  | `lock/{name}`            | `lock/read`              |
 * | POST /v1/locks/{name}/…               | `lock/{name}`            | `lock/write`             |
 * | GET /v1/cluster                       | `cluster`                | `cluster/read`           |
 * | cluster changes                       | `cluster`                | `cluster/admin` + quorum |
 * | GET /metrics                          | `metrics`                | `metrics/read`           |
 * | POST /v1/sessions                     | any valid token (a session grants nothing by itself)  |
 * | GET /health                           | no token                                             |
 */
export class ApiAuthorizer {
  private readonly provider: CryptoProvider
  private readonly verifier: Ed25519Verifier
  private readonly adminQuorumRequired: boolean

  constructor(
    private readonly options: ApiAuthOptions,
    private readonly clock: Clock,
  ) {
    this.provider = options.cryptoProvider ?? defaultCryptoProvider()
    this.verifier = new Ed25519Verifier(this.provider)
    this.adminQuorumRequired = options.adminQuorumRequired ?? true
  }

  /** Throws 401/403 ServiceError unless `authorization` (the header value) satisfies `requirement`. */
  check(authorization: string, requirement: Requirement): void {
    if (requirement.kind === 'none') return
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (!match) throw unauthorized('missing Authorization: Bearer <capability token>')
    let token: CapabilityToken
    try {
      token = parseCapability(match[1]!)
    } catch (thrown) {
      throw unauthorized(
        `the token cannot be read: ${thrown instanceof DecodeError ? thrown.message : 'malformed'}`,
      )
    }
    const chain: CapabilityToken[] = []
    for (let link: CapabilityToken | undefined = token; link; link = link.proof) chain.push(link)
    const leaf = token
    const verdict = verifyCapability(token, {
      provider: this.provider,
      verifier: this.verifier,
      trustedRoots: [this.options.rootPublicKey],
      // Bearer semantics: the presenter is taken to be the leaf's audience.
      holder: leaf.audience,
      nowMs: this.clock.wallNow(),
      ...(this.options.revocations ? { revocations: this.options.revocations } : {}),
    })
    if (!verdict.ok) throw unauthorized(`token refused (${verdict.reason}): ${verdict.message}`)
    if (requirement.kind === 'any-valid') return
    const { ability } = requirement
    if (!verdict.abilities.some((granted) => patternMatches(granted, ability))) {
      throw forbidden(`the token does not grant ${ability}`)
    }
    if (requirement.resource !== undefined && !patternMatches(verdict.resource, requirement.resource)) {
      throw forbidden(`the token's resource ${verdict.resource} does not cover ${requirement.resource}`)
    }
    if (
      requirement.resourcePattern !== undefined &&
      !patternCovers(verdict.resource, requirement.resourcePattern)
    ) {
      throw forbidden(
        `the token's resource ${verdict.resource} does not cover ${requirement.resourcePattern}`,
      )
    }
    if (requirement.admin && this.adminQuorumRequired && !chain.some((link) => link.quorum !== undefined)) {
      throw forbidden('cluster/admin needs a quorum-approved capability (a chain with a quorum requirement)')
    }
  }
}

function unauthorized(message: string): ServiceError {
  return new ServiceError({ status: 401, error: 'unauthorized', message })
}

function forbidden(message: string): ServiceError {
  return new ServiceError({ status: 403, error: 'forbidden', message })
}
