import { defineConfig, type Options } from 'tsup'

/**
 * The one build preset every package uses: ESM + CommonJS + declarations from `src/index.ts`.
 * Sibling packages are external (resolved from their published `dist`), so a package's bundle
 * never inlines another's code.
 */
export function libraryPreset(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { customConditions: [] } },
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    treeshake: true,
    external: [/^@socketcloud\//],
    ...overrides,
  })
}
