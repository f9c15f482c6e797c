import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { defineConfig } from 'vitest/config'
import base from '../../vitest.config.js'

// `pnpm test:fastify-versions` (scripts/fastify-versions.mjs): the Fastify suites against the
// Fastify installed in $PORTCULLIS_FASTIFY_DIR (a scratch directory holding
// node_modules/fastify), instead of the workspace's devDependency. Every `fastify` the tests,
// the packages' sources and the examples import resolves to that copy (resolve.alias below;
// Fastify itself is then loaded by Node from there, with its own find-my-way, avvio and
// light-my-request), and so does every `fastify` in the processes the tests spawn (the built
// `portcullis` bin and its fixtures), through fastify-loader.mjs in NODE_OPTIONS.
// fastify-version.test.ts checks that the copy loaded is $PORTCULLIS_FASTIFY_VERSION.

const root = fileURLToPath(new URL('../..', import.meta.url))
const dirVariable = process.env.PORTCULLIS_FASTIFY_DIR
if (dirVariable === undefined || dirVariable === '') {
  throw new Error(
    'PORTCULLIS_FASTIFY_DIR is not set: run `pnpm test:fastify-versions` (it installs each Fastify version and sets it)',
  )
}
const dir = resolve(dirVariable)
const manifest = join(dir, 'node_modules', 'fastify', 'package.json')
if (!existsSync(manifest)) {
  throw new Error(`PORTCULLIS_FASTIFY_DIR=${dir} holds no node_modules/fastify`)
}
const installed = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version
const fastifyRoot = join(dir, 'node_modules', 'fastify')
const fastifyEntry = createRequire(join(dir, 'package.json')).resolve('fastify')
const loader = pathToFileURL(fileURLToPath(new URL('./fastify-loader.mjs', import.meta.url))).href

interface Alias {
  find: string | RegExp
  replacement: string
}

/** The root config's aliases (the workspace packages to their sources), after ours. */
function baseAliases(): Alias[] {
  const alias: unknown = base.resolve?.alias
  if (alias === undefined) return []
  if (Array.isArray(alias)) return alias as Alias[]
  return Object.entries(alias as Record<string, string>).map(([find, replacement]) => ({
    find,
    replacement,
  }))
}

export default defineConfig({
  root,
  resolve: {
    alias: [
      { find: /^fastify$/, replacement: fastifyEntry },
      { find: /^fastify\/(.*)$/, replacement: `${fastifyRoot}/$1` },
      ...baseAliases(),
    ],
  },
  test: {
    ...base.test,
    // The suites that run Fastify apps (deny by default and its route table, the plugins, the
    // CLI on real apps, the HTTP fuzzers, the example app). Not the Express suites, not the
    // token-verifier unit tests, not the soak, the Redis faults, the docs or the packing checks.
    include: [
      'test/fastify-versions/**/*.test.ts',
      'test/fastify/**/*.test.ts',
      'test/allowlist/**/*.test.ts',
      'test/rate-limit/**/*.test.ts',
      'test/cli/**/*.test.ts',
      'test/reliability/fuzz-*.test.ts',
      'packages/{fastify,policy,allowlist,rate-limit}/src/**/*.test.ts',
      'examples/*/src/**/*.test.ts',
    ],
    env: {
      ...base.test?.env,
      PORTCULLIS_FASTIFY_DIR: dir,
      PORTCULLIS_FASTIFY_INSTALLED: installed,
      NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${loader}`]
        .filter((o) => o !== undefined && o !== '')
        .join(' '),
    },
  },
})
