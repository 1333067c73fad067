/**
 * Goal: the engine's behaviour in named Raft scenarios, message by message, pinned as golden files.
 * Method: each test/testdata/*.txt script drives an InteractionEnv (engines over the public API, a
 * held network, per-node durable storage) and asserts every command's exact output; the header of
 * each script says what Raft requires of it. UPDATE_GOLDEN=1 rewrites the outputs (then review them).
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runScript } from './datadriven'
import { InteractionEnv } from './interaction-env'

const testdata = join(import.meta.dirname, '..', 'testdata')
const scripts = readdirSync(testdata)
  .filter((name) => name.endsWith('.txt'))
  .sort()

describe('scripted Raft scenarios (test/testdata)', () => {
  it('finds the scripts', () => {
    expect(scripts.length).toBeGreaterThan(0)
  })

  for (const script of scripts) {
    it(script, () => {
      const env = new InteractionEnv()
      runScript(join(testdata, script), (command) => env.handle(command))
    })
  }
})
