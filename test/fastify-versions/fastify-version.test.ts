import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import portcullis from '@portcullis/fastify'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { guardedApp } from '../helpers.js'

// Run by `pnpm test:fastify-versions` (test/fastify-versions/vitest.config.ts): proves that the
// Fastify the suites exercise is the version under test, and not the workspace's devDependency
// behind an alias that silently missed. Skipped in the ordinary `vitest run`.
const expected = process.env.PORTCULLIS_FASTIFY_VERSION
const dir = process.env.PORTCULLIS_FASTIFY_DIR
const root = fileURLToPath(new URL('../..', import.meta.url))

describe.skipIf(expected === undefined || expected === '' || dir === undefined)(
  `Fastify ${expected ?? '(not set)'} under test`,
  () => {
    it('is the fastify the tests import', async () => {
      const app = Fastify()
      expect(app.version).toBe(expected)
      await app.close()
    })

    it('is the fastify the shared test helpers and the plugins run on', async () => {
      const { app } = await guardedApp((app) => {
        app.get('/ping', { config: { guard: { public: 'version check' } } }, () => 'pong')
      })
      await app.ready()
      expect(app.version).toBe(expected)
      expect(app.hasPlugin('@portcullis/fastify')).toBe(true)
      expect((await app.inject({ method: 'GET', url: '/ping' })).body).toBe('pong')
      await app.close()
      expect(typeof portcullis).toBe('function')
    })

    it('is the only fastify loaded in this worker', () => {
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((file) =>
        /[\\/]node_modules[\\/]fastify[\\/]fastify\.js$/u.test(file),
      )
      expect(loaded.length).toBeGreaterThan(0)
      for (const file of loaded) expect(file.startsWith(dir!)).toBe(true)
    })

    it('is the fastify that spawned processes (the portcullis bin, its fixtures) load', () => {
      // The fixtures of test/cli import `fastify` from inside the repository, where Node alone
      // would find the workspace's copy; NODE_OPTIONS (set by the config) redirects it.
      const script = [
        "import { createRequire } from 'node:module'",
        "import Fastify from 'fastify'",
        `const require = createRequire(${JSON.stringify(`${root}test/cli/fixtures/x.mjs`)})`,
        'console.log(JSON.stringify({',
        '  imported: Fastify().version,',
        "  required: require('fastify')().version,",
        "  manifest: require('fastify/package.json').version,",
        '}))',
      ].join('\n')
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: `${root}test/cli/fixtures`,
        encoding: 'utf8',
        env: process.env,
        timeout: 30_000,
      })
      expect(child.stderr).toBe('')
      expect(JSON.parse(child.stdout)).toEqual({
        imported: expected,
        required: expected,
        manifest: expected,
      })
    })
  },
)
