import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = fileURLToPath(new URL('.', import.meta.url))
const packages = readdirSync(new URL('./packages', import.meta.url))

// Tests import packages by their public names; inside the workspace those names resolve to
// the sources, so the suite runs without a build. test/build checks the built output itself.
export default defineConfig({
  resolve: {
    alias: [
      // The unscoped package, as the README imports it.
      { find: /^portcullis$/, replacement: `${root}packages/portcullis/src/index.ts` },
      ...packages.flatMap((name) => [
        {
          find: new RegExp(`^@portcullis/${name}$`),
          replacement: `${root}packages/${name}/src/index.ts`,
        },
        {
          find: new RegExp(`^@portcullis/${name}/internal$`),
          replacement: `${root}packages/${name}/src/internal.ts`,
        },
      ]),
    ],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/src/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    restoreMocks: true,
  },
})
