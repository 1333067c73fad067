import { decodeCounterValue } from './core/responses'
import { encodeNameSegment, queryString } from './core/names'
import { checkSafeInteger, jsonBody } from './json-body'
import { callOptions } from './kv'
import type { ReadOptions } from './kv'
import { decodeJsonReply } from './requester'
import type { CallOptions, Requester } from './requester'

/** Replicated integer counters: `client.counter`. */
export class CounterApi {
  constructor(private readonly requester: Requester) {}

  /**
   * Adds `delta` (a safe integer, may be negative) and returns the new value. Applied exactly once even when
   * retried (with `safeWrites`). Rejects with code `overflow` when the result would leave the safe range.
   */
  async add(name: string, delta: number, options: CallOptions = {}): Promise<number> {
    checkSafeInteger(delta, 'delta', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
    const reply = await this.requester.send({
      ...callOptions(options),
      method: 'POST',
      path: `/v1/counters/${encodeNameSegment(name, 'name')}`,
      body: jsonBody({ delta }),
      contentType: 'application/json',
      kind: 'session_write',
    })
    return decodeJsonReply(reply, decodeCounterValue, 'applied')
  }

  /** The counter's value (0 when never set). */
  async get(name: string, options: ReadOptions = {}): Promise<number> {
    const consistency = options.consistency === 'stale' ? 'stale' : undefined
    const reply = await this.requester.send({
      ...callOptions(options),
      method: 'GET',
      path: `/v1/counters/${encodeNameSegment(name, 'name')}${queryString({ consistency })}`,
      kind: 'read',
    })
    return decodeJsonReply(reply, decodeCounterValue, 'not_applied')
  }
}
