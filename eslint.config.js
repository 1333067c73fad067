// One lint configuration for the whole workspace. The purity rules below are how the architecture's
// "pure cores" promise is kept by the linter rather than by memory.
import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const pureCoreFiles = ['packages/core/src/**/*.ts', 'packages/sim/src/**/*.ts', 'packages/*/src/core/**/*.ts']
// Files allowed to touch real time or I/O inside otherwise pure packages, each for a stated reason:
// - core/src/system: the single place where the wall clock and real timers are bound to `Clock`.
// - sim/src/compliance: suites that exercise real implementations (sockets, files) and need real waits.
const pureCoreExemptions = [
  'packages/core/src/system/**',
  'packages/sim/src/compliance/**',
  '**/*.test.ts',
  '**/*.spec.ts',
]

const crossPackageSourceImport = {
  group: [
    '@socketcloud/*/src',
    '@socketcloud/*/src/**',
    '**/packages/*/src/**',
    '../../*/src/**',
    '../../../*/src/**',
  ],
  message: "Import another package through its public entry ('@socketcloud/<name>'), never its src/.",
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**', '.nx/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs', '**/*.js'],
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
    rules: {
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': ['error', { patterns: [crossPackageSourceImport] }],
    },
  },
  {
    files: pureCoreFiles,
    ignores: pureCoreExemptions,
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'Pure cores take time from tick()/Clock, never Date.now().',
        },
        {
          object: 'Math',
          property: 'random',
          message: 'Pure cores take randomness from an injected seeded Random.',
        },
        { object: 'performance', property: 'now', message: 'Pure cores take time from tick()/Clock.' },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Pure cores use ticks; timers belong to drivers.' },
        { name: 'setInterval', message: 'Pure cores use ticks; timers belong to drivers.' },
        { name: 'setImmediate', message: 'Pure cores use ticks; timers belong to drivers.' },
        { name: 'process', message: 'Pure cores do not read process state.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Pure cores never read wall time.',
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            crossPackageSourceImport,
            { group: ['node:*'], message: 'Pure cores do no I/O: no node:* imports.' },
            {
              group: [
                'fs',
                'fs/*',
                'net',
                'dgram',
                'http',
                'https',
                'os',
                'child_process',
                'worker_threads',
                'crypto',
                'timers',
                'timers/*',
              ],
              message: 'Pure cores do no I/O: no Node built-ins.',
            },
          ],
        },
      ],
    },
  },
)
