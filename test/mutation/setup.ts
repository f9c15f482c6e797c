// Loaded by test/mutation/vitest.config.ts only. Each mutant reruns the property tests that cover
// it: a few dozen runs per property find what a mutant breaks as well as hundreds, at a fraction
// of the time. The regular suite keeps the tests' own numRuns.
import type * as FastCheck from 'fast-check'
import { vi } from 'vitest'

vi.mock('fast-check', async (importOriginal) => {
  const real = await importOriginal<typeof FastCheck>()
  const MAX_RUNS = 40
  const assert: typeof real.assert = ((property: never, parameters?: { numRuns?: number }) =>
    real.assert(property, {
      ...parameters,
      numRuns: Math.min(parameters?.numRuns ?? MAX_RUNS, MAX_RUNS),
    })) as typeof real.assert
  return { ...real, default: { ...real, assert }, assert }
})
