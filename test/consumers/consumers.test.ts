// What a user installs from npm, installed the way a user installs it: the packed tarballs
// (`pnpm pack`, workspace ranges rewritten) go into fresh projects under the OS temp directory,
// outside the workspace, with plain `npm install`, next to `fastify` from the registry. Each
// project starts a guarded Fastify app and checks one allowed and one refused request:
//
// - esm: `"type": "module"`, `import portcullis from '@portcullis/fastify'` and from 'portcullis'
// - cjs: no `"type"`, `require(...)` of both
// - ts:  `tsc` under module/moduleResolution node16 (emitted and run) and esnext/bundler
//        (`--noEmit`), where `config.guard` and `request.principal` must be typed from the
//        package import alone. Each entry point is checked in its own program, so the umbrella
//        cannot borrow the augmentations of `@portcullis/fastify`. A .cts program (nodenext)
//        does the same for the CommonJS declarations and is run too (reported as `ts-cjs`).
// - express: `@portcullis/express` and `express` only (no Fastify: an optional peer of the
//   shared packages), an ESM and a CommonJS app over a loopback server
//
// Packages are packed by `scripts/check-packs.mjs --pack-only` (the same packing as
// `pnpm check:packs`); it needs the build (`pnpm test` builds first) and skips, with a warning,
// a package that has not been built. npm uses the machine's npm cache (`--prefer-offline`).
// PORTCULLIS_KEEP_CONSUMERS=1 keeps the projects (the path is printed) for a look by hand.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const rootManifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>
}
const range = (name: string): string => {
  const value = rootManifest.devDependencies[name]
  if (value === undefined) throw new Error(`root devDependencies lack ${name}`)
  return value
}

const SETUP_TIMEOUT = 240_000
const ENTRIES = ['@portcullis/fastify', 'portcullis'] as const

interface PackManifest {
  packages: { name: string; version: string; tarball: string }[]
  skipped: { name: string; reason: string }[]
}

/** What each app prints: one line of JSON per entry point. */
interface AppReport {
  entry: string
  sameExport: boolean
  allowed: { status: number; body: unknown }
  refused: { status: number; contentType: string; challenge: string; code: string }
  unguarded: string
  /** The URLs of the modules the process loaded (the loaded-modules programs only). */
  modules?: string[]
}

interface Exec {
  stdout: string
  stderr: string
}

// npm must see neither the workspace nor the pnpm/npm that started this test: package managers
// export lower-case npm_config_* (local_prefix among them) to scripts, which would point npm back
// at the workspace. Upper-case NPM_CONFIG_* (a registry mirror set by CI, say) is the user's own
// configuration and stays, as does ~/.npmrc (and with it the npm cache).
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^(npm_|pnpm_|PNPM_)/.test(key)),
)

function exec(command: string, args: string[], cwd: string): Promise<Exec> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd,
        env: cleanEnv,
        maxBuffer: 32 * 1024 * 1024,
        shell: process.platform === 'win32',
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(
              `${command} ${args.join(' ')} failed in ${cwd}\n${stdout}\n${stderr}\n${error.message}`,
            ),
          )
        } else resolve({ stdout, stderr })
      },
    )
  })
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const node = process.execPath

let work = ''
let expressDir = ''
let manifest: PackManifest
const timings: Record<string, number> = {}

async function timed<T>(label: string, task: () => Promise<T>): Promise<T> {
  const start = performance.now()
  try {
    return await task()
  } finally {
    timings[label] = Math.round(performance.now() - start)
  }
}

function tarball(name: string): string {
  const entry = manifest.packages.find((p) => p.name === name)
  if (!entry) throw new Error(`${name} was not packed (is it built?)`)
  return `file:${entry.tarball}`
}

/**
 * A fresh project: the dependencies a user lists (README: `npm install portcullis fastify` or
 * `npm install @portcullis/fastify fastify`, plus `@portcullis/testing` for tokens). Every other
 * packed package is pinned to its tarball through `overrides`, so that npm resolves the internal
 * `^0.1.0` ranges to what we packed rather than to the registry.
 */
async function createProject(
  name: string,
  type: 'module' | 'commonjs',
  devDependencies: Record<string, string>,
  files: Record<string, string>,
  dependencies: Record<string, string> = {
    '@portcullis/fastify': tarball('@portcullis/fastify'),
    portcullis: tarball('portcullis'),
    fastify: range('fastify'),
  },
): Promise<string> {
  const dir = join(work, name)
  await mkdir(dir, { recursive: true })
  const direct = [...Object.keys(dependencies), '@portcullis/testing']
  const pkg = {
    name: `portcullis-consumer-${name}`,
    version: '1.0.0',
    private: true,
    type,
    dependencies,
    devDependencies: { '@portcullis/testing': tarball('@portcullis/testing'), ...devDependencies },
    overrides: Object.fromEntries(
      manifest.packages
        .filter((p) => !direct.includes(p.name))
        .map((p) => [p.name, `file:${p.tarball}`]),
    ),
  }
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`)
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(dir, file, '..'), { recursive: true })
    await writeFile(join(dir, file), text)
  }
  await timed(`npm install (${name})`, () =>
    exec(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], dir),
  )
  return dir
}

// The app, in JavaScript; `load` is how the module syntax gets at the entry point.
function appBody(entry: string): string {
  return `
  const issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
  const options = {
    tokens: {
      issuers: [
        { issuer: issuer.issuer, audience: issuer.audience, algorithms: ['ES256'], jwks: issuer.jwks },
      ],
    },
  }
  const app = Fastify()
  await app.register(portcullis, options)
  app.get('/v1/videos/:id', { config: { guard: { scopes: ['videos:read'], callers: ['search-svc'], response: { allow: ['id', 'subject'] } } } },
    async (request) => ({ id: request.params.id, subject: request.principal.subject, internal: 'dropped' }))
  app.get('/healthz', { config: { guard: { public: 'liveness probe', response: { allow: ['ok'] } } } }, async () => ({ ok: true }))
  const token = await issuer.token({ scope: ['videos:read'], client_id: 'search-svc' })
  const allowed = await app.inject({ url: '/v1/videos/42', headers: bearer(token) })
  const refused = await app.inject({ url: '/v1/videos/42' })

  const bare = Fastify()
  await bare.register(portcullis, options)
  bare.get('/forgotten', async () => 'no guard')
  const unguarded = await bare.ready().then(
    () => 'started',
    (error) => (isPortcullisError(error, 'PCL_UNGUARDED_ROUTE') ? error.code : String(error)),
  )
  await app.close()
  await issuer.close()
  console.log(JSON.stringify({
    entry: ${JSON.stringify(entry)},
    sameExport: portcullis === named,
    allowed: { status: allowed.statusCode, body: allowed.json() },
    refused: {
      status: refused.statusCode,
      contentType: refused.headers['content-type'],
      challenge: refused.headers['www-authenticate'],
      code: refused.json().code,
    },
    unguarded,
  }))
`
}

const esmApp = (entry: string): string => `import Fastify from 'fastify'
import { bearer, createTestIssuer } from '@portcullis/testing'
import portcullis, { portcullis as named, isPortcullisError } from '${entry}'
${appBody(entry)}`

const cjsApp = (entry: string): string => `'use strict'
const Fastify = require('fastify')
const { bearer, createTestIssuer } = require('@portcullis/testing')
const { default: portcullis, portcullis: named, isPortcullisError } = require('${entry}')

async function main() {
${appBody(entry)}
}
main().catch((error) => {
  console.error(error)
  process.exit(1)
})
`

// The app in TypeScript: compiles only if the package's own declarations type the route config
// and the request; each @ts-expect-error fails the build if the types it tests went missing.
// `esm` is an ES module (top-level await), `cjs` a .cts file written with `import = require`.
const tsHeader = {
  esm: (entry: string): string => `import Fastify from 'fastify'
import portcullis, {
  isPortcullisError,
  portcullis as named,
  type PortcullisOptions,
  type DeclaredGuard,
  type Principal,
  type RouteGuard,
} from '${entry}'
import { bearer, createTestIssuer } from '@portcullis/testing'
`,
  cjs: (entry: string): string => `import Fastify = require('fastify')
import entry = require('${entry}')
import testing = require('@portcullis/testing')

const { default: portcullis, portcullis: named, isPortcullisError } = entry
const { bearer, createTestIssuer } = testing
type PortcullisOptions = entry.PortcullisOptions
type DeclaredGuard = entry.DeclaredGuard
type Principal = entry.Principal
type RouteGuard = entry.RouteGuard
`,
}

const tsBody = (entry: string): string => `
const issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
const options: PortcullisOptions = {
  tokens: {
    issuers: [
      { issuer: issuer.issuer, audience: issuer.audience, algorithms: ['ES256'], jwks: issuer.jwks },
    ],
  },
}
const app = Fastify()
await app.register(portcullis, options)

const videoGuard: DeclaredGuard = {
  scopes: ['videos:read'],
  callers: ['search-svc'],
  response: { allow: ['id', 'subject'] },
}
// A named policy is a RouteGuard: it declares no response.
const readVideos: RouteGuard = { scopes: ['videos:read'] }
void readVideos
app.get<{ Params: { id: string } }>(
  '/v1/videos/:id',
  { config: { guard: videoGuard } },
  async (request) => {
    const principal: Principal | null = request.principal
    // @ts-expect-error request.principal is a Principal, not any: it has no such field
    void request.principal?.notAField
    return { id: request.params.id, subject: principal?.subject ?? null }
  },
)
app.get('/healthz', { config: { guard: { public: 'liveness probe', response: { allow: ['ok'] } } } }, async () => ({ ok: true }))
app.get('/me', { config: { guard: { authenticated: true, response: { allow: ['scopes[]'] } } } }, async (request) => ({
  scopes: [...(request.principal?.scopes ?? [])],
}))

function wrongGuards(): void {
  // @ts-expect-error a public route takes a reason (a string)
  app.get('/wrong-public', { config: { guard: { public: 1 } } }, async () => 'never')
  // @ts-expect-error authenticated is \`true\` or absent
  app.get('/wrong-auth', { config: { guard: { authenticated: 'yes' } } }, async () => 'never')
  // @ts-expect-error a route's guard declares its response allowlist (the allowlist is in force)
  app.get('/no-response', { config: { guard: { authenticated: true } } }, async () => 'never')
  // @ts-expect-error tokens are required
  void app.register(portcullis, {})
}
void wrongGuards

const token = await issuer.token({ scope: ['videos:read'], client_id: 'search-svc' })
const allowed = await app.inject({ url: '/v1/videos/42', headers: bearer(token) })
const refused = await app.inject({ url: '/v1/videos/42' })

const bare = Fastify()
await bare.register(portcullis, options)
bare.get('/forgotten', async () => 'no guard')
const unguarded = await bare.ready().then(
  () => 'started',
  (error: unknown) =>
    isPortcullisError(error, 'PCL_UNGUARDED_ROUTE') ? error.code : String(error),
)
await app.close()
await issuer.close()
console.log(
  JSON.stringify({
    entry: ${JSON.stringify(entry)},
    sameExport: portcullis === named,
    allowed: { status: allowed.statusCode, body: allowed.json<unknown>() },
    refused: {
      status: refused.statusCode,
      contentType: refused.headers['content-type'],
      challenge: refused.headers['www-authenticate'],
      code: refused.json<{ code: string }>().code,
    },
    unguarded,
  }),
)
`

const tsApp = (style: 'esm' | 'cjs', entry: string): string =>
  style === 'esm'
    ? tsHeader.esm(entry) + tsBody(entry)
    : `${tsHeader.cjs(entry)}
async function main(): Promise<void> {
${tsBody(entry)}
}
main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
`

const fileOf = (entry: string): string => (entry === 'portcullis' ? 'umbrella' : 'fastify')

/**
 * The TypeScript programs. `node16` and `bundler` check each entry point on its own (one file
 * per program), so the umbrella cannot borrow the augmentations the other import brings in.
 * `cjs` checks the CommonJS declarations (.d.cts) from .cts files under `nodenext`: under
 * `node16`, TypeScript refuses a CommonJS declaration importing the ESM-only `jose` (TS1479),
 * which TypeScript >= 5.8 allows under `nodenext` (require(esm)); see docs/packaging.md.
 */
const TS_PROGRAMS = [
  ...ENTRIES.flatMap((entry) => [
    { name: `node16-${fileOf(entry)}`, resolution: 'node16', files: [`src/${fileOf(entry)}.ts`] },
    { name: `bundler-${fileOf(entry)}`, resolution: 'bundler', files: [`src/${fileOf(entry)}.ts`] },
  ]),
  { name: 'cjs', resolution: 'nodenext', files: ENTRIES.map((e) => `src/${fileOf(e)}-cjs.cts`) },
] as const

function tsconfig(program: (typeof TS_PROGRAMS)[number]): string {
  const compilerOptions = {
    target: 'ES2022',
    lib: ['ES2023'],
    types: ['node'],
    strict: true,
    // Every declaration file (ours among them) is checked as a user with the strictest settings
    // sees it, once per kind: the ESM .d.ts files through the umbrella (which imports all of
    // them) and the CommonJS .d.cts files in the cjs program. The other programs resolve the
    // same files and skip that (slow) part.
    skipLibCheck: !(program.name === 'node16-umbrella' || program.name === 'cjs'),
    ...(program.resolution === 'bundler'
      ? { module: 'esnext', moduleResolution: 'bundler', noEmit: true }
      : {
          module: program.resolution,
          moduleResolution: program.resolution,
          outDir: `build/${program.name}`,
          rootDir: 'src',
        }),
  }
  return `${JSON.stringify({ compilerOptions, files: program.files }, null, 2)}\n`
}

/** Runs the tasks at most `limit` at a time (tsc is CPU-bound; CI machines may have 2 cores). */
async function pool(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  const queue = [...tasks]
  const worker = async (): Promise<void> => {
    for (let task = queue.shift(); task; task = queue.shift()) await task()
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker))
}

// The Express adapter, as an Express user installs it (`npm install @portcullis/express express`,
// no Fastify), from ESM (`app.mjs`) and CommonJS (`app.cjs`).
const expressBody = (entry: string): string => `
  const issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
  const tokens = {
    issuers: [
      { issuer: issuer.issuer, audience: issuer.audience, algorithms: ['ES256'], jwks: issuer.jwks },
    ],
  }
  const guard = createGuard({ tokens })
  const app = express()
  app.get('/v1/videos/:id', guard({ scopes: ['videos:read'], callers: ['search-svc'], response: { allow: ['id', 'subject'] } }),
    (req, res) => { res.json({ id: req.params.id, subject: req.principal.subject, internal: 'dropped' }) })
  guard.seal(app)
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const base = 'http://127.0.0.1:' + server.address().port
  const token = await issuer.token({ scope: ['videos:read'], client_id: 'search-svc' })
  const allowed = await fetch(base + '/v1/videos/42', { headers: bearer(token) })
  const refused = await fetch(base + '/v1/videos/42')

  const bareGuard = createGuard({ tokens })
  const bare = express()
  bare.get('/forgotten', (req, res) => { res.send('no guard') })
  let unguarded = 'started'
  try {
    bareGuard.seal(bare)
  } catch (error) {
    unguarded = isPortcullisError(error, 'PCL_UNGUARDED_ROUTE') ? error.code : String(error)
  }
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  await guard.close()
  await bareGuard.close()
  await issuer.close()
  const refusedBody = await refused.json()
  console.log(JSON.stringify({
    entry: ${JSON.stringify(entry)},
    sameExport: true,
    allowed: { status: allowed.status, body: await allowed.json() },
    refused: {
      status: refused.status,
      contentType: refused.headers.get('content-type'),
      challenge: refused.headers.get('www-authenticate'),
      code: refusedBody.code,
    },
    unguarded,
  }))
`

const expressApps: Record<string, string> = {
  'app.mjs': `import express from 'express'
import { bearer, createTestIssuer } from '@portcullis/testing'
import { createGuard, isPortcullisError } from '@portcullis/express'
${expressBody('esm')}`,
  'app.cjs': `'use strict'
const express = require('express')
const { bearer, createTestIssuer } = require('@portcullis/testing')
const { createGuard, isPortcullisError } = require('@portcullis/express')

async function main() {
${expressBody('cjs')}
}
main().catch((error) => {
  console.error(error)
  process.exit(1)
})
`,
}

// What an Express user's process loads: only \`express\` and \`@portcullis/express\` are imported
// (no test helpers, which may bring more), a guard is built, a route declared and sealed. ESM
// resolutions are recorded by a loader hook (which runs on its own thread, so it appends to a
// file); CommonJS modules (express itself, and the CJS build) are in the require cache.
const loadHooks = `import { appendFileSync } from 'node:fs'
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context)
  appendFileSync(new URL('./esm-loaded.txt', import.meta.url), resolved.url + '\\n')
  return resolved
}
`

const loadsBody = (entry: string): string => `
  const guard = createGuard({
    tokens: { issuers: [{ issuer: 'https://auth.test', audience: 'videos-api', algorithms: ['ES256'], jwksUri: 'https://auth.test/jwks' }] },
    rateLimit: { max: 10, timeWindow: '1 minute' },
  })
  const app = express()
  app.get('/v1/videos/:id', guard({ scopes: ['videos:read'], response: { allow: ['id'] } }), (req, res) => { res.json({ id: 1 }) })
  guard.seal(app)
  await guard.close()
  const esm = existsSync('esm-loaded.txt') ? readFileSync('esm-loaded.txt', 'utf8').split('\\n').filter(Boolean) : []
  const modules = [...esm, ...Object.keys(require.cache).map((file) => pathToFileURL(file).href)]
  console.log(JSON.stringify({ entry: ${JSON.stringify(entry)}, modules }))
`

const loadApps: Record<string, string> = {
  'load-hooks.mjs': loadHooks,
  'loads.mjs': `import { existsSync, readFileSync, rmSync } from 'node:fs'
import { createRequire, register } from 'node:module'
import { pathToFileURL } from 'node:url'
rmSync('esm-loaded.txt', { force: true })
register('./load-hooks.mjs', import.meta.url)
const require = createRequire(import.meta.url)
const { default: express } = await import('express')
const { createGuard } = await import('@portcullis/express')
${loadsBody('loads esm')}`,
  'loads.cjs': `'use strict'
const { existsSync, readFileSync } = require('node:fs')
const { pathToFileURL } = require('node:url')
const express = require('express')
const { createGuard } = require('@portcullis/express')

async function main() {
${loadsBody('loads cjs')}
}
main().catch((error) => {
  console.error(error)
  process.exit(1)
})
`,
}

const outputs = new Map<string, AppReport>()

function parseReports(stdout: string, project: string): void {
  for (const line of stdout.split('\n').filter((l) => l.startsWith('{'))) {
    const report = JSON.parse(line) as AppReport
    outputs.set(`${project} ${report.entry}`, report)
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'portcullis-consumers-'))
  const packs = join(work, 'packs')
  await timed('pack', () =>
    exec(node, [join(root, 'scripts/check-packs.mjs'), '--pack-only', '--out', packs], root),
  )
  manifest = JSON.parse(await readFile(join(packs, 'packs.json'), 'utf8')) as PackManifest
  for (const { name, reason } of manifest.skipped) {
    console.warn(`!!! consumer test: ${name} was not packed: ${reason}`)
  }

  const files = (app: (entry: string) => string, ext: string): Record<string, string> =>
    Object.fromEntries(ENTRIES.map((entry) => [`${fileOf(entry)}.${ext}`, app(entry)]))
  const tsFiles: Record<string, string> = {}
  for (const entry of ENTRIES) {
    tsFiles[`src/${fileOf(entry)}.ts`] = tsApp('esm', entry)
    tsFiles[`src/${fileOf(entry)}-cjs.cts`] = tsApp('cjs', entry)
  }
  for (const program of TS_PROGRAMS) tsFiles[`tsconfig.${program.name}.json`] = tsconfig(program)

  // One install per project, in parallel (mostly network and disk).
  const [esm, cjs, ts, expressProject] = await Promise.all([
    createProject('esm', 'module', {}, files(esmApp, 'js')),
    createProject('cjs', 'commonjs', {}, files(cjsApp, 'js')),
    createProject(
      'ts',
      'module',
      { typescript: range('typescript'), '@types/node': range('@types/node') },
      tsFiles,
    ),
    createProject(
      'express',
      'module',
      {},
      { ...expressApps, ...loadApps },
      {
        '@portcullis/express': tarball('@portcullis/express'),
        express: range('express'),
      },
    ),
  ])
  expressDir = expressProject

  const runApp = async (project: string, dir: string, file: string): Promise<void> => {
    const { stdout } = await timed(`run ${project} ${file}`, () => exec(node, [file], dir))
    parseReports(stdout, project)
  }
  const tsc = join(ts, 'node_modules', 'typescript', 'bin', 'tsc')
  await pool(
    [
      () => runApp('express', expressProject, 'app.mjs'),
      () => runApp('express', expressProject, 'app.cjs'),
      async () => {
        // One after the other: the ESM program's hook writes a file in the project.
        await runApp('express', expressProject, 'loads.mjs')
        await runApp('express', expressProject, 'loads.cjs')
      },
      ...ENTRIES.flatMap((entry) => [
        () => runApp('esm', esm, `${fileOf(entry)}.js`),
        () => runApp('cjs', cjs, `${fileOf(entry)}.js`),
      ]),
      ...TS_PROGRAMS.map((program) => async () => {
        await timed(`tsc ${program.name}`, () =>
          exec(node, [tsc, '-p', `tsconfig.${program.name}.json`], ts),
        )
        if (program.resolution === 'bundler') return
        for (const file of program.files) {
          const built = file.replace(/^src\//, `build/${program.name}/`).replace(/ts$/, 'js')
          await runApp(program.name === 'cjs' ? 'ts-cjs' : 'ts', ts, built)
        }
      }),
    ],
    Math.max(2, availableParallelism()),
  )
}, SETUP_TIMEOUT)

afterAll(async () => {
  console.info(
    'consumer test timings (ms):',
    Object.entries(timings)
      .map(([label, ms]) => `${label}: ${ms}`)
      .join(', '),
  )
  if (process.env.PORTCULLIS_KEEP_CONSUMERS) console.info(`consumer projects kept in ${work}`)
  else if (work) await rm(work, { recursive: true, force: true })
})

function reportOf(key: string): AppReport {
  const found = outputs.get(key)
  if (!found) throw new Error(`no output from the ${key} app`)
  return found
}

/** What every consumer app shows, on Fastify and Express alike. */
function itGuardsRoutes(report: () => AppReport): void {
  it('serves a request with a valid token, allowlisted (200)', () => {
    expect(report().allowed).toEqual({ status: 200, body: { id: '42', subject: 'user-1' } })
  })

  it('refuses a request without a token (401, problem+json, Bearer challenge)', () => {
    const { refused } = report()
    expect(refused.status).toBe(401)
    expect(refused.contentType).toMatch(/^application\/problem\+json/)
    expect(refused.challenge).toMatch(/^Bearer\b/)
    expect(refused.code).toBe('PCL_TOKEN_MISSING')
  })

  it('refuses to start with an unguarded route', () => {
    expect(report().unguarded).toBe('PCL_UNGUARDED_ROUTE')
  })
}

describe.each(['esm', 'cjs', 'ts', 'ts-cjs'])('%s project', (project) => {
  describe.each(ENTRIES)('through %s', (entry) => {
    const report = (): AppReport => reportOf(`${project} ${entry}`)

    it('exports the plugin as default and as `portcullis`', () => {
      expect(report().sameExport).toBe(true)
    })

    itGuardsRoutes(report)
  })
})

describe.each(['esm', 'cjs'])('express project, %s', (entry) => {
  itGuardsRoutes(() => reportOf(`express ${entry}`))
})

it('does not install Fastify for an Express user (it is an optional peer)', () => {
  expect(existsSync(join(expressDir, 'node_modules', 'express'))).toBe(true)
  expect(existsSync(join(expressDir, 'node_modules', 'fastify'))).toBe(false)
})

// The packages that are Fastify itself, its plugin machinery, or a Fastify plugin's entry point.
// `@fastify/rate-limit`'s two store files (plain counting code, required by path) may load: they
// are the counters both adapters share; its index (the Fastify plugin) may not.
const FASTIFY_CODE =
  /\/node_modules\/(?:fastify|fastify-plugin|avvio|find-my-way|light-my-request|@fastify\/(?!rate-limit\/store\/)[^/]+)\//

describe.each(['esm', 'cjs'])('an Express-only process (%s)', (format) => {
  const modules = (): string[] => reportOf(`express loads ${format}`).modules ?? []

  it('loads the Express adapter and the framework-free packages', () => {
    const loaded = modules().join('\n')
    expect(loaded).toMatch(/\/node_modules\/@portcullis\/express\/dist\//)
    for (const name of ['core', 'tokens', 'policy', 'rate-limit', 'allowlist']) {
      expect(loaded).toMatch(new RegExp(`/node_modules/@portcullis/${name}/dist/`))
    }
  })

  it('loads no Fastify code', () => {
    expect(modules().filter((url) => FASTIFY_CODE.test(url))).toEqual([])
  })
})

it('installs every package that was built', () => {
  const names = manifest.packages.map((p) => p.name)
  for (const name of [
    '@portcullis/core',
    '@portcullis/tokens',
    '@portcullis/policy',
    '@portcullis/fastify',
    '@portcullis/express',
    '@portcullis/testing',
    'portcullis',
  ]) {
    expect(names).toContain(name)
  }
})
