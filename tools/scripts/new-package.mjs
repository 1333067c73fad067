#!/usr/bin/env node
// Creates the skeleton of a workspace package with the shared toolchain preset.
// Usage: node tools/scripts/new-package.mjs <name> "<description>" [dep=version ...]
import { mkdirSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'

const [name, description, ...deps] = process.argv.slice(2)
if (!name || !description) {
  console.error('usage: new-package.mjs <name> "<description>" [dep=version ...]')
  process.exit(2)
}
const dir = join('packages', name)
if (existsSync(join(dir, 'package.json'))) {
  console.error(`${dir}/package.json exists; refusing to overwrite`)
  process.exit(1)
}
mkdirSync(join(dir, 'src'), { recursive: true })
const dependencies = {}
for (const dep of deps) {
  const at = dep.lastIndexOf('=')
  dependencies[dep.slice(0, at)] = dep.slice(at + 1)
}
const pkg = {
  name: `@socketcloud/${name}`,
  version: '0.1.0',
  description,
  license: 'MIT',
  type: 'module',
  engines: { node: '>=20' },
  sideEffects: false,
  files: ['dist', 'src', '!src/**/*.test.ts', '!src/**/*.spec.ts', 'README.md'],
  main: './dist/index.cjs',
  module: './dist/index.js',
  types: './dist/index.d.ts',
  exports: {
    '.': {
      '@socketcloud/source': './src/index.ts',
      import: { types: './dist/index.d.ts', default: './dist/index.js' },
      require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
    },
    './package.json': './package.json',
  },
  scripts: {
    build: 'tsup',
    typecheck: 'tsc -p tsconfig.json --noEmit',
    lint: 'eslint src',
    test: 'vitest run',
  },
  dependencies,
}
writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
writeFileSync(
  join(dir, 'tsconfig.json'),
  `${JSON.stringify({ extends: '../../tsconfig.base.json', include: ['src'] }, null, 2)}\n`,
)
writeFileSync(
  join(dir, 'tsup.config.ts'),
  `import { libraryPreset } from '../../tools/config/tsup.preset'\n\nexport default libraryPreset()\n`,
)
writeFileSync(
  join(dir, 'vitest.config.ts'),
  `import { packageTestConfig } from '../../tools/config/vitest.preset'\n\nexport default packageTestConfig(import.meta.dirname)\n`,
)
if (!existsSync(join(dir, 'src', 'index.ts'))) {
  writeFileSync(
    join(dir, 'src', 'index.ts'),
    `/**\n * @packageDocumentation\n * ${description}\n */\nexport {}\n`,
  )
}
console.log(`created ${dir}`)
