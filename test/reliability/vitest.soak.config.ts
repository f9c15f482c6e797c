import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import base from '../../vitest.config.js'

// `pnpm test:soak`: the long soak (1,000,000 requests) alone, in a worker started with
// --expose-gc so that heap figures are taken after real full collections.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: base.resolve ?? {},
  test: {
    include: ['test/reliability/soak.test.ts'],
    env: { PORTCULLIS_SOAK: process.env.PORTCULLIS_SOAK ?? '1' },
    execArgv: ['--expose-gc'],
    testTimeout: 20 * 60_000,
  },
})
