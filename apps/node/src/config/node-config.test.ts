import { ConfigError } from '@socketcloud/core'
import { describe, expect, it } from 'vitest'
import { environmentLayer, fileLayer, NODE_DEFAULTS, resolveNodeConfig } from './node-config'

const peerId = 'ab'.repeat(32)

describe('resolveNodeConfig', () => {
  it('uses the defaults, then file, then environment, then flags', () => {
    const config = resolveNodeConfig(
      fileLayer({ dataDir: '/file', http: '127.0.0.1:8000', logLevel: 'warn' }, 'node.json'),
      environmentLayer({ SOCKETCLOUD_HTTP: '127.0.0.1:9000', SOCKETCLOUD_TICK_INTERVAL_MS: '20' }),
      { dataDir: '/flag' },
    )
    expect(config.dataDir).toBe('/flag')
    expect(config.http).toEqual({ host: '127.0.0.1', port: 9000 })
    expect(config.logLevel).toBe('warn')
    expect(config.tickIntervalMs).toBe(20)
    expect(config.electionTimeoutTicks).toBe(NODE_DEFAULTS.electionTimeoutTicks)
  })

  it('parses peers as <id>@address lists', () => {
    const config = resolveNodeConfig({
      peers: `${peerId}@tcp://127.0.0.1:7001, ${'cd'.repeat(32)}@tcp://127.0.0.1:7002`,
    })
    expect(config.peers).toEqual([
      { id: peerId, address: 'tcp://127.0.0.1:7001' },
      { id: 'cd'.repeat(32), address: 'tcp://127.0.0.1:7002' },
    ])
  })

  it('reports every problem at once, naming the setting and its variable', () => {
    let error: unknown
    try {
      resolveNodeConfig({
        listen: 'udp://127.0.0.1:1',
        http: 'nonsense',
        peers: 'zz@tcp://127.0.0.1:1',
        logLevel: 'loud',
        tickIntervalMs: '-5',
      })
    } catch (thrown) {
      error = thrown
    }
    expect(error).toBeInstanceOf(ConfigError)
    const message = (error as ConfigError).message
    for (const part of [
      'listen (SOCKETCLOUD_LISTEN)',
      'http (SOCKETCLOUD_HTTP)',
      'peers',
      'logLevel',
      'tickIntervalMs',
    ]) {
      expect(message).toContain(part)
    }
  })

  it('refuses unknown file settings, join together with peers, and heartbeat ≥ election timeout', () => {
    expect(() => fileLayer({ dataDri: 'x' }, 'node.json')).toThrow(/unknown setting\(s\) dataDri/)
    expect(() => fileLayer([1], 'node.json')).toThrow(ConfigError)
    expect(() =>
      resolveNodeConfig({ join: 'http://127.0.0.1:7070', peers: `${peerId}@tcp://127.0.0.1:7001` }),
    ).toThrow(/exclude each other/)
    expect(() => resolveNodeConfig({ heartbeatTicks: 6, electionTimeoutTicks: 6 })).toThrow(/heartbeatTicks/)
  })
})
