// Goal: `socketcloud node` refuses a bad configuration before doing anything, naming every problem
// and its setting, with exit code 2 — flags, environment and config file alike.
// Method: the CLI from source in a child process; the config file in a temporary directory.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { SOURCE_NODE_COMMAND } from './process-cluster'

const run = promisify(execFile)

async function node(args: string[], env: Record<string, string> = {}) {
  const [executable, ...prefix] = SOURCE_NODE_COMMAND
  return run(executable, [...prefix, 'node', ...args], {
    timeout: 60_000,
    env: { ...process.env, ...env },
  }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  )
}

describe('socketcloud node configuration errors', () => {
  it('reports every invalid setting from flags, environment and file, and exits 2', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'socketcloud-config-'))
    try {
      const file = join(directory, 'node.json')
      writeFileSync(file, JSON.stringify({ dataDir: directory, tickIntervalMs: 0 }))
      const result = await node(
        ['--config', file, '--listen', 'udp://127.0.0.1:1', '--peers', 'nobody@tcp://127.0.0.1:2'],
        {
          SOCKETCLOUD_HTTP: 'not-a-host-port',
        },
      )
      expect(result.code).toBe(2)
      for (const part of [
        'listen (SOCKETCLOUD_LISTEN)',
        'http (SOCKETCLOUD_HTTP)',
        'peers (SOCKETCLOUD_PEERS)',
        'tickIntervalMs',
      ]) {
        expect(result.stderr).toContain(part)
      }

      writeFileSync(file, '{"dataDir": ')
      expect(await node(['--config', file])).toMatchObject({
        code: 2,
        stderr: expect.stringContaining('not valid JSON'),
      })
      writeFileSync(file, JSON.stringify({ dataDirectory: directory }))
      expect(await node(['--config', file])).toMatchObject({
        code: 2,
        stderr: expect.stringContaining('unknown setting(s) dataDirectory'),
      })
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  }, 120_000)
})
