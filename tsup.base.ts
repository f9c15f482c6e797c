import { existsSync } from 'node:fs'
import { defineConfig } from 'tsup'

// One build shape for every package: ESM + CJS + type declarations for both, per issue #2.
// jose 6 is ESM only; the CJS output relies on Node's require(esm) (engines >= 20.19).
export default defineConfig({
  // `src/internal.ts`, where a package has one: the runtime entry its sibling adapters import
  // (`@portcullis/<name>/internal`), kept off the public index.
  entry: existsSync('src/internal.ts') ? ['src/index.ts', 'src/internal.ts'] : ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  // esbuild's own tree shaking. tsup's extra rollup pass (`treeshake: true`) warned on every
  // CommonJS build with a default export beside named ones, and on the imports it dropped, so a
  // clean build was never quiet (test/build/clean-build.test.ts). What an Express-only install
  // loads is checked on the packed packages (test/consumers).
  treeshake: false,
  // Packages build against each other's published types (no workspace `paths`), as users will.
  tsconfig: 'tsconfig.build.json',
})
