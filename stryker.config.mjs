// Mutation testing over the security-critical sources (`pnpm test:mutation`; not part of
// `pnpm test`). Narrow a run with PORTCULLIS_MUTATE=verifier|sender|policy|allowlist|rate-limit|runtime
// (comma-separated). docs/reliability.md records the last score and the surviving mutants.
import { selectedGroups } from './test/mutation/groups.mjs'

const mutate = selectedGroups().flatMap((group) => [...group.mutate])

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'test/mutation/vitest.config.ts' },
  mutate: [...mutate, '!**/index.ts', '!**/*.d.ts', '!**/*.test.ts', '!**/*.test-d.ts'],
  // A static mutant (module-level code) reloads everything and runs every test: skipped.
  ignoreStatic: true,
  ignorePatterns: ['dist', 'coverage', 'bench', 'reports', '.tmp', 'examples/*/dist'],
  coverageAnalysis: 'perTest',
  // The machine is shared: one or two test processes, generous timeouts.
  concurrency: Number(process.env.PORTCULLIS_MUTATE_CONCURRENCY ?? 1),
  timeoutMS: 5_000,
  reporters: ['clear-text', 'progress-append-only', 'json'],
  jsonReporter: { fileName: `reports/mutation/${process.env.PORTCULLIS_MUTATE ?? 'all'}.json` },
  thresholds: { high: 95, low: 90, break: null },
  cleanTempDir: 'always',
  // Results are reused for mutants whose code and covering tests did not change.
  incremental: true,
  incrementalFile: `reports/mutation/${process.env.PORTCULLIS_MUTATE ?? 'all'}.incremental.json`,
}
