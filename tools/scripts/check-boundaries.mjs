#!/usr/bin/env node
// Enforces the dependency table of ARCHITECTURE.md: a package may depend only on the packages of
// ours listed for it (plus @socketcloud/sim for tests), and may import only what it declares.
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const ALLOWED = {
  core: [],
  sim: ['core'],
  transport: ['core'],
  security: ['core'],
  storage: ['core'],
  'failure-detector': ['core'],
  dht: ['core'],
  crdt: ['core'],
  'state-machines': ['core'],
  'consensus-raft': ['core'],
  'consensus-pbft': ['core'],
  'consensus-tendermint': ['core'],
  consensus: ['core', 'consensus-raft', 'consensus-pbft', 'consensus-tendermint'],
  client: ['core'],
}
const TEST_ONLY = ['sim']
const SCOPE = '@socketcloud/'

const problems = []
const workspaceDirs = ['packages', 'apps', 'tools'].flatMap((root) =>
  existsSync(root) ? readdirSync(root).map((name) => join(root, name)) : [],
)

function sourceFiles(dir) {
  if (!existsSync(dir)) return []
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.(ts|mts|js|mjs)$/.test(name) ? [path] : []
  })
}

for (const dir of workspaceDirs) {
  const manifestPath = join(dir, 'package.json')
  if (!existsSync(manifestPath)) continue
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
  if (!manifest.name?.startsWith(SCOPE)) continue
  const name = manifest.name.slice(SCOPE.length)
  const ours = (deps) =>
    Object.keys(deps ?? {})
      .filter((dep) => dep.startsWith(SCOPE))
      .map((dep) => dep.slice(SCOPE.length))
  const runtime = ours(manifest.dependencies).concat(ours(manifest.peerDependencies))
  const dev = ours(manifest.devDependencies)
  const assembly = dir.startsWith('apps') || manifest.private === true

  if (!assembly) {
    const allowed = ALLOWED[name]
    if (!allowed) {
      problems.push(
        `${manifest.name}: not in the architecture's package table (add it to ARCHITECTURE.md and this check)`,
      )
      continue
    }
    for (const dep of runtime) {
      if (!allowed.includes(dep))
        problems.push(`${manifest.name} depends on ${SCOPE}${dep}; allowed: ${allowed.join(', ') || 'none'}`)
    }
    for (const dep of dev) {
      if (!allowed.includes(dep) && !(TEST_ONLY.includes(dep) && dep !== name && name !== 'core')) {
        problems.push(
          `${manifest.name} has dev dependency ${SCOPE}${dep}; tests may add only ${TEST_ONLY.join(', ')}`,
        )
      }
    }
  }

  const declared = new Set([...runtime, ...dev, name])
  const importPattern =
    /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]@socketcloud\/([a-z0-9-]+)(\/[^'"]*)?['"]/g
  for (const file of sourceFiles(join(dir, 'src')).concat(sourceFiles(join(dir, 'test')))) {
    const text = readFileSync(file, 'utf8')
    for (const match of text.matchAll(importPattern)) {
      const [, dep, subpath] = match
      if (!declared.has(dep))
        problems.push(
          `${relative('.', file)} imports ${SCOPE}${dep}, which ${manifest.name} does not declare`,
        )
      if (subpath)
        problems.push(`${relative('.', file)} imports ${SCOPE}${dep}${subpath}; use the public entry only`)
      const testFile = /\.(test|spec)\.ts$/.test(file) || file.includes('/test/')
      if (
        !assembly &&
        !testFile &&
        TEST_ONLY.includes(dep) &&
        !(ALLOWED[name] ?? []).includes(dep) &&
        dep !== name
      ) {
        problems.push(`${relative('.', file)} imports ${SCOPE}${dep} outside a test`)
      }
    }
  }
}

if (problems.length > 0) {
  console.error(`Module boundary check failed (${problems.length}):`)
  for (const problem of problems) console.error(`  - ${problem}`)
  process.exit(1)
}
console.log('module boundaries: ok')
