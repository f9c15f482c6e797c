import { defineConfig } from 'tsup'

// One build shape for every package: ESM + CJS + type declarations for both, per issue #2.
// jose 6 is ESM only; the CJS output relies on Node's require(esm) (engines >= 20.19).
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  treeshake: true,
  // Packages build against each other's published types (no workspace `paths`), as users will.
  tsconfig: 'tsconfig.build.json',
})
