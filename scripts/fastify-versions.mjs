#!/usr/bin/env node
// `pnpm test:fastify-versions`: runs the Fastify suites against the lowest and the newest Fastify
// that the packages' peer range allows, so that a change in a Fastify minor (above all in the
// text of `printRoutes()`, which @portcullis/policy parses to find routes declared before it and
// fails closed on) is caught here before users see their apps refuse to start.
//
//   node scripts/fastify-versions.mjs [<version>...] [-- <vitest arguments>]
//
// Without versions: the peer range's lower bound (`^5.0.0` -> 5.0.0) and the newest release in
// the range (`npm view fastify@<range> version`). Each version is installed with plain npm into
// node_modules/.cache/fastify-versions/<version> (outside git's view, reused when it already
// holds that version; PORTCULLIS_FASTIFY_CACHE moves it), then vitest runs
// test/fastify-versions/vitest.config.ts with PORTCULLIS_FASTIFY_DIR pointing there. Fastify's
// own dependencies (find-my-way, which prints the route tree, avvio, light-my-request) are
// whatever npm resolves for that Fastify today, as a user's fresh install would get.
//
// It does not build: the CLI suite runs the built bin, so run `pnpm build` first (`pnpm test`
// does). Exit code 1 when any version fails; a version whose tests run longer than
// PORTCULLIS_FASTIFY_VERSIONS_TIMEOUT_MS (10 minutes) is stopped and fails.
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))
const cacheDir = resolve(
  process.env.PORTCULLIS_FASTIFY_CACHE ?? join(root, 'node_modules', '.cache', 'fastify-versions'),
)
const config = join(root, 'test', 'fastify-versions', 'vitest.config.ts')
const vitestBin = join(root, 'node_modules', 'vitest', 'vitest.mjs')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
// A suite that hangs must not hold CI forever: each version's vitest run is stopped after this.
const timeoutMs = Number(process.env.PORTCULLIS_FASTIFY_VERSIONS_TIMEOUT_MS ?? 10 * 60_000)

const args = process.argv.slice(2)
const dashDash = args.indexOf('--')
const requested = dashDash === -1 ? args : args.slice(0, dashDash)
const vitestArgs = dashDash === -1 ? [] : args.slice(dashDash + 1)

/** The `fastify` peer range every package declares (they must agree). */
async function peerRange() {
  const ranges = new Set()
  for (const name of await readdir(join(root, 'packages'))) {
    const file = join(root, 'packages', name, 'package.json')
    if (!existsSync(file)) continue
    const range = JSON.parse(await readFile(file, 'utf8')).peerDependencies?.fastify
    if (range !== undefined) ranges.add(range)
  }
  if (ranges.size !== 1) {
    throw new Error(`the packages declare ${ranges.size} fastify peer ranges: ${[...ranges]}`)
  }
  return [...ranges][0]
}

/** @param {string} a @param {string} b */
function compareVersions(a, b) {
  const pa = a.split(/[.-]/u).map(Number)
  const pb = b.split(/[.-]/u).map(Number)
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0)
  return 0
}

/** The lowest and the newest published version in `range` (a caret range, `^X.Y.Z`). */
async function defaultVersions(range) {
  const lowest = /^\^(\d+\.\d+\.\d+)$/u.exec(range)?.[1]
  if (lowest === undefined) {
    throw new Error(`unsupported fastify peer range ${range}: teach scripts/fastify-versions.mjs`)
  }
  const { stdout } = await run(npm, ['view', `fastify@${range}`, 'version', '--json'], {
    cwd: root,
  })
  const parsed = JSON.parse(stdout)
  const published = (Array.isArray(parsed) ? parsed : [parsed]).filter((v) =>
    /^\d+\.\d+\.\d+$/u.test(v),
  )
  if (!published.includes(lowest)) {
    throw new Error(`fastify@${lowest} (the peer range's lower bound) is not on the registry`)
  }
  const newest = published.sort(compareVersions).at(-1)
  return newest === lowest ? [lowest] : [lowest, newest]
}

async function installedVersion(dir, name) {
  const file = join(dir, 'node_modules', name, 'package.json')
  if (!existsSync(file)) return undefined
  return JSON.parse(await readFile(file, 'utf8')).version
}

/** Installs fastify@version into its own scratch directory (its own package.json, so npm never
 * walks up to the workspace). */
async function install(version) {
  const dir = join(cacheDir, version)
  if ((await installedVersion(dir, 'fastify')) === version) {
    console.log(`fastify@${version}: reusing ${dir}`)
    return dir
  }
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  await writeFile(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'portcullis-fastify-versions', private: true }, null, 2)}\n`,
  )
  console.log(`fastify@${version}: npm install into ${dir}`)
  await run(
    npm,
    [
      'install',
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--prefix',
      dir,
      `fastify@${version}`,
    ],
    { cwd: dir, maxBuffer: 16 * 1024 * 1024 },
  )
  const got = await installedVersion(dir, 'fastify')
  if (got !== version) throw new Error(`npm installed fastify@${got}, not ${version}`)
  return dir
}

/** @type {import('node:child_process').ChildProcess | undefined} */
let running

/** Stops the running vitest and its workers (they are in their own process group). */
function stopRunning() {
  if (running?.pid === undefined || running.exitCode !== null) return
  try {
    if (process.platform === 'win32') running.kill()
    else process.kill(-running.pid, 'SIGKILL')
  } catch {
    // already gone
  }
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopRunning()
    process.exit(130)
  })
}

function vitest(dir, version, outputFile) {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [
        vitestBin,
        'run',
        '--config',
        config,
        '--reporter=default',
        '--reporter=json',
        `--outputFile.json=${outputFile}`,
        ...vitestArgs,
      ],
      {
        cwd: root,
        stdio: 'inherit',
        // Its own process group, so that a timeout stops vitest and its workers together.
        detached: process.platform !== 'win32',
        env: {
          ...process.env,
          PORTCULLIS_FASTIFY_DIR: dir,
          PORTCULLIS_FASTIFY_VERSION: version,
        },
      },
    )
    running = child
    const timer = setTimeout(() => {
      console.error(`fastify@${version}: vitest still running after ${timeoutMs} ms, stopping it`)
      stopRunning()
    }, timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      fail(err)
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      done(code ?? (signal === null ? 1 : 128))
    })
  })
}

const range = await peerRange()
const versions = requested.length > 0 ? requested : await defaultVersions(range)
if (!existsSync(join(root, 'packages', 'fastify', 'dist', 'cli', 'cli.js'))) {
  console.warn('warning: packages/fastify/dist is missing, the CLI suite will fail: pnpm build')
}
console.log(`fastify peer range ${range}: testing ${versions.join(', ')}`)

const results = []
for (const version of versions) {
  const started = Date.now()
  const result = { version, code: 1, passed: 0, failed: 0, skipped: 0, files: 0, deps: '' }
  try {
    const dir = await install(version)
    const deps = []
    for (const name of ['find-my-way', 'avvio', 'light-my-request']) {
      deps.push(`${name}@${(await installedVersion(dir, name)) ?? '?'}`)
    }
    result.deps = deps.join(' ')
    console.log(`\n=== fastify@${version} (${result.deps}) ===\n`)
    const outputFile = join(cacheDir, `results-${version}.json`)
    await rm(outputFile, { force: true })
    result.code = await vitest(dir, version, outputFile)
    if (existsSync(outputFile)) {
      const report = JSON.parse(await readFile(outputFile, 'utf8'))
      result.passed = report.numPassedTests ?? 0
      result.failed = report.numFailedTests ?? 0
      result.skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
      result.files = report.testResults.length
      result.failures = report.testResults.flatMap((file) =>
        file.assertionResults
          .filter((t) => t.status === 'failed')
          .map((t) => `${file.name.slice(root.length)} > ${t.fullName}`),
      )
    }
  } catch (err) {
    console.error(`fastify@${version}: ${err instanceof Error ? err.message : String(err)}`)
  }
  result.seconds = Math.round((Date.now() - started) / 1000)
  results.push(result)
}

console.log('\nFastify versions:')
for (const r of results) {
  console.log(
    `  fastify@${r.version}: ${r.code === 0 ? 'ok' : 'FAILED'} - ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped in ${r.files} files (${r.seconds}s; ${r.deps || 'not installed'})`,
  )
  for (const failure of r.failures ?? []) console.log(`      x ${failure}`)
}
process.exitCode = results.every((r) => r.code === 0) ? 0 : 1
