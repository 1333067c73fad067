import { defineConfig } from 'vitest/config'

// One run over every workspace package, so `npm test` produces a single JSON report.
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'tools/*/vitest.config.ts'],
  },
})
