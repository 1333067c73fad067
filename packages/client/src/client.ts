import { ClusterApi } from './cluster'
import { CounterApi } from './counters'
import { decodeHealth } from './core/responses'
import type { HealthStatus } from './core/responses'
import { KvApi, callOptions } from './kv'
import { LockApi } from './locks'
import { resolveOptions } from './options'
import type { ResolvedOptions, SocketCloudClientInit } from './options'
import { Requester, decodeJsonReply } from './requester'
import type { CallOptions } from './requester'
import { Watch } from './watch'
import type { WatchOptions } from './watch'

/**
 * The client for a SocketCloud cluster's HTTP/WebSocket API (API.md). One instance can be shared by any
 * number of concurrent callers; it keeps no connection of its own beyond `fetch`'s pool and open watches.
 */
export class SocketCloudClient {
  readonly kv: KvApi
  readonly counter: CounterApi
  readonly lock: LockApi
  readonly cluster: ClusterApi
  private readonly options: ResolvedOptions
  private readonly requester: Requester
  private readonly watches = new Set<Watch>()

  /** Validates the options (throws core's ConfigError naming the bad one); makes no request. */
  constructor(init: SocketCloudClientInit) {
    this.options = resolveOptions(init)
    this.requester = new Requester(this.options)
    this.kv = new KvApi(this.requester)
    this.counter = new CounterApi(this.requester)
    this.lock = new LockApi(this.requester)
    this.cluster = new ClusterApi(this.requester)
  }

  /** The normalised endpoints, in failover order. */
  get endpoints(): readonly string[] {
    return this.options.endpoints
  }

  /** The endpoint the next call tries first: the last one that answered. */
  get currentEndpoint(): string {
    return this.requester.currentEndpoint
  }

  /** The id of the session writes use, once the first write opened it. */
  get sessionId(): string | undefined {
    return this.requester.sessionId
  }

  /**
   * `GET /health` of the current endpoint, failing over like any read, with the endpoint that answered. To
   * probe one particular node, use a client with only that endpoint and `retry: { attemptsMax: 1 }`.
   */
  async health(options: CallOptions = {}): Promise<HealthStatus & { endpoint: string }> {
    const reply = await this.requester.send({
      ...callOptions(options),
      method: 'GET',
      path: '/health',
      kind: 'read',
    })
    return { ...decodeJsonReply(reply, decodeHealth, 'not_applied'), endpoint: reply.endpoint }
  }

  /**
   * Watches every put and delete under `prefix` (`''` for all keys). Connects at once; iterate it with
   * `for await`. See `Watch` for reconnection, ordering and limits.
   */
  watch(prefix: string, options: WatchOptions = {}): Watch {
    const index = this.options.endpoints.indexOf(this.requester.currentEndpoint)
    const watch = new Watch(prefix, this.options, Math.max(0, index), options)
    if (!watch.ended) {
      this.watches.add(watch)
      watch.on('ended', () => this.watches.delete(watch))
    }
    return watch
  }

  /** Closes every watch this client opened (HTTP calls hold nothing open beyond `fetch`'s idle pool). */
  close(): void {
    for (const watch of [...this.watches]) watch.close()
  }
}
