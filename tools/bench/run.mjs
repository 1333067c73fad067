#!/usr/bin/env node
// Entry point of `npm run bench -- <name>`: runs the TypeScript harness through tsx, resolving
// workspace packages from source (the `@socketcloud/source` export condition), so no build is needed.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const result = spawnSync(
  process.execPath,
  [
    '--conditions=@socketcloud/source',
    '--import',
    'tsx',
    join(here, 'src', 'main.ts'),
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
)
process.exit(result.status ?? 1)
