import { basename } from 'node:path'
import { defineConfig } from 'vitest/config'

/** Shared test settings; packages resolve siblings from source through the `@socketcloud/source` condition. */
export const sharedTestOptions = {
  resolve: { conditions: ['@socketcloud/source'] },
  ssr: { resolve: { conditions: ['@socketcloud/source'] } },
}

export function packageTestConfig(root: string) {
  return defineConfig({
    ...sharedTestOptions,
    test: {
      name: basename(root),
      root,
      include: ['src/**/*.{test,spec}.ts', 'test/**/*.{test,spec}.ts'],
      testTimeout: 60_000,
      hookTimeout: 60_000,
    },
  })
}
