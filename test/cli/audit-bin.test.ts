import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'

// The built bin, as `npx portcullis` runs it; the .mjs fixtures import the built packages
// through the root node_modules. Build first: `pnpm -r --filter "./packages/**" run build`.
const root = fileURLToPath(new URL('../..', import.meta.url))
const manifest = JSON.parse(
  readFileSync(new URL('../../packages/fastify/package.json', import.meta.url), 'utf8'),
) as { bin: Record<string, string> }
const bin = fileURLToPath(
  new URL(`../../packages/fastify/${manifest.bin.portcullis}`, import.meta.url),
)
const built = fileURLToPath(new URL('../../packages/fastify/dist/cli/cli.js', import.meta.url))

function env(): NodeJS.ProcessEnv {
  const copy = { ...process.env }
  delete copy.PORTCULLIS_DEBUG
  return copy
}

function portcullis(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: env(),
    timeout: 30_000,
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

beforeAll(() => {
  if (!existsSync(built)) throw new Error(`${built} is missing: build the packages first`)
})

describe('the built portcullis bin', () => {
  it('is a committed, executable shim with a shebang that runs the built ES module', () => {
    // Committed, so that `pnpm install` links the command before anything is built.
    expect(manifest.bin.portcullis).toBe('./bin/portcullis.js')
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true)
    expect(statSync(bin).mode & 0o111).not.toBe(0)
    const direct = spawnSync(bin, ['--help'], { cwd: root, encoding: 'utf8', env: env() })
    expect(direct.status).toBe(0)
    expect(direct.stdout).toContain('portcullis audit <app module>')
    // ESM output (the CJS build would `require` instead): "type": "module" makes .js ESM.
    expect(readFileSync(built, 'utf8')).toMatch(/^import [^;]* from ['"]@portcullis\/core['"]/m)
  })

  it('exits 0 and prints the table when every route is guarded', () => {
    const { code, stdout, stderr } = portcullis('audit', 'test/cli/fixtures/guarded.mjs')
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toMatch(/^METHOD +URL +ACCESS +RATE LIMIT +RESPONSE +BODY\n/)
    expect(stdout).toMatch(
      /^GET +\/healthz +public: liveness probe +- +NONE: success bodies are not allowlisted +-$/m,
    )
    expect(stdout).toMatch(
      /^HEAD +\/v1\/videos\/:id +authenticated +- +NONE: success bodies are not allowlisted +-$/m,
    )
    expect(stdout).toContain('4 routes: 2 guarded, 2 public, 0 unguarded')
  })

  it('prints JSON with --json', () => {
    const { code, stdout } = portcullis('audit', 'test/cli/fixtures/guarded.mjs', '--json')
    expect(code).toBe(0)
    const result = JSON.parse(stdout)
    expect(result.ok).toBe(true)
    expect(result.routes).toHaveLength(4)
  })

  it('exits 1 when app.ready() rejects with unguarded routes, printing the table too', () => {
    const { code, stdout, stderr } = portcullis('audit', 'test/cli/fixtures/unguarded.mjs')
    expect(code).toBe(1)
    expect(stdout).toMatch(/^GET +\/internal\/metadata +UNGUARDED +- +- +-$/m)
    expect(stderr).toContain('PCL_UNGUARDED_ROUTE')
    expect(stderr).toContain('GET /internal/metadata has no guard')
    expect(stderr).toContain('HEAD /internal/metadata has no guard')
  })

  it("exits 1 for an unguarded route in 'deny' mode (a sync factory, by --export)", () => {
    const { code, stdout, stderr } = portcullis(
      'audit',
      'test/cli/fixtures/deny-mode.mjs',
      '--export',
      'buildApp',
    )
    expect(code).toBe(1)
    expect(stdout).toMatch(/^GET +\/internal\/metadata +UNGUARDED +- +- +-$/m)
    expect(stderr).toContain('GET /internal/metadata has no guard')
  })

  it('exits 2 when the default export is not an app', () => {
    const { code, stderr } = portcullis('audit', 'test/cli/fixtures/not-an-app.mjs')
    expect(code).toBe(2)
    expect(stderr).toContain('is not a Fastify app')
  })

  it('exits 2 when the module throws on import, without a stack unless PORTCULLIS_DEBUG=1', () => {
    const { code, stderr } = portcullis('audit', 'test/cli/fixtures/throws.mjs')
    expect(code).toBe(2)
    expect(stderr).toBe(
      'portcullis audit: cannot load test/cli/fixtures/throws.mjs: REDIS_URL is not set\n',
    )
    const debug = spawnSync(process.execPath, [bin, 'audit', 'test/cli/fixtures/throws.mjs'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...env(), PORTCULLIS_DEBUG: '1' },
    })
    expect(debug.status).toBe(2)
    expect(debug.stderr).toMatch(/^\s+at .*throws\.mjs/m)
  })

  it('exits 2 for a TypeScript module Node.js cannot load, saying how to load it', () => {
    const { code, stdout, stderr } = portcullis('audit', 'test/cli/fixtures/ts-app.ts')
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toMatch(/^portcullis audit: cannot load test\/cli\/fixtures\/ts-app\.ts: /)
    expect(stderr).toContain(
      `test/cli/fixtures/ts-app.ts is TypeScript, which Node.js ${process.versions.node} does not load by itself`,
    )
    expect(stderr).toContain(
      "NODE_OPTIONS='--import tsx' npx portcullis audit test/cli/fixtures/ts-app.ts",
    )
    expect(stderr).toContain('npx portcullis audit dist/app.js')
  })

  it('exits 2 on a usage error or an unknown command', () => {
    const unknownFlag = portcullis('audit', 'test/cli/fixtures/guarded.mjs', '--nope')
    expect(unknownFlag.code).toBe(2)
    expect(unknownFlag.stderr).toContain('Usage: portcullis audit')
    expect(portcullis('audit').code).toBe(2)
    expect(portcullis('inspect').code).toBe(2)
    expect(portcullis().code).toBe(2)
    expect(portcullis('audit', '--help').code).toBe(0)
  })
})
