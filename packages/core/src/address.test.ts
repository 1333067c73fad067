import { describe, expect, it } from 'vitest'
import { parseAddress } from './address'
import { ConfigError } from './errors'

describe('parseAddress', () => {
  it('parses each protocol into a canonical form', () => {
    expect(parseAddress('tcp://127.0.0.1:7001')).toMatchObject({
      protocol: 'tcp',
      host: '127.0.0.1',
      port: 7001,
    })
    expect(parseAddress('udp://[::1]:0')).toMatchObject({
      protocol: 'udp',
      host: '::1',
      port: 0,
      url: 'udp://[::1]:0',
    })
    expect(parseAddress('ws://0.0.0.0:80/mesh')).toMatchObject({
      protocol: 'ws',
      port: 80,
      path: '/mesh',
      url: 'ws://0.0.0.0:80/mesh',
    })
    expect(parseAddress('mem://node-a')).toMatchObject({
      protocol: 'mem',
      host: 'node-a',
      url: 'mem://node-a',
    })
  })

  it('refuses unknown protocols, missing ports and garbage with ConfigError', () => {
    for (const bad of ['http://a:1', 'tcp://127.0.0.1', 'tcp://127.0.0.1:70000', 'not a url', '', 'mem://']) {
      expect(() => parseAddress(bad), bad).toThrow(ConfigError)
    }
  })
})
