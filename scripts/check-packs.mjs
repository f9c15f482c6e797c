#!/usr/bin/env node
// `pnpm check:packs`: packs every publishable package the way `pnpm publish` will, then checks
// each tarball (not the workspace, where symlinks hide mistakes) with publint and
// @arethetypeswrong/cli, plus our own checks on the packed package.json and file list.
//
//   node scripts/check-packs.mjs [--out <dir>] [--pack-only]
//
// It does not build: run `pnpm build` first (the README's test line does; so does `pnpm release`).
// A package whose build output is missing is skipped with a loud warning, not failed, so that a
// package still being written does not block the others; the consumer test installs whatever was
// packed. `--out` keeps the tarballs and writes `<out>/packs.json` (name, version, tarball path
// for each package); without it they go to a temporary directory, removed at the end.
// `--pack-only` packs and runs the package.json and file-list checks but skips publint and attw
// (the consumer test uses it).
// Exit code 1 on any error.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { gunzipSync } from 'node:zlib'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))
const require = createRequire(import.meta.url)
// Every package supports what the workspace supports (root package.json `engines.node`).
const nodeRange = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).engines.node

// The workspace's own pnpm (a pinned devDependency), so `workspace:^` is rewritten by the same
// pnpm that will publish.
const pnpmBin = join(root, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs')
const attwBin = join(
  dirname(require.resolve('@arethetypeswrong/cli/package.json')),
  'dist/index.js',
)

// attw profile `strict`: node10, node16 from CJS, node16 from ESM and bundler must all resolve
// types that match the JavaScript. No rule is ignored: attw checks each package in isolation and
// does not resolve its dependencies, so jose being ESM-only (our CJS build loads it through
// Node's require(esm), hence engines >= 20.19) does not show up here; the consumer test's
// CommonJS project is what proves that path. If a rule ever has to be ignored, add it here with
// the reason, never a blanket `--profile esm-only`.
const ATTW_PROFILE = 'strict'
/** @type {string[]} */
const ATTW_IGNORED_RULES = []

const REQUIRED_FIELDS = [
  'description',
  'keywords',
  'license',
  'repository',
  'homepage',
  'bugs',
  'engines',
  'sideEffects',
  'files',
  'exports',
  'main',
  'module',
  'types',
]
const DEPENDENCY_FIELDS = [
  'dependencies',
  'peerDependencies',
  'optionalDependencies',
  'devDependencies',
]

function parseArgs(argv) {
  const args = { out: undefined, packOnly: false }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') args.out = resolve(argv[++i] ?? '')
    else if (argv[i] === '--pack-only') args.packOnly = true
    else throw new Error(`unknown argument ${argv[i]}`)
  }
  return args
}

/** Publishable packages: every packages/* with a package.json that is not private. */
async function listPackages() {
  const dirs = (await readdir(join(root, 'packages'), { withFileTypes: true }))
    .filter((d) => d.isDirectory() && existsSync(join(root, 'packages', d.name, 'package.json')))
    .map((d) => join(root, 'packages', d.name))
  const packages = []
  for (const dir of dirs.sort()) {
    const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'))
    if (!manifest.private) packages.push({ dir, manifest })
  }
  return packages
}

/** Every file the manifest points at (exports targets, main, module, types, bin). */
function entryFiles(manifest) {
  const files = new Set()
  const walk = (value) => {
    if (typeof value === 'string') {
      if (!value.includes('*')) files.add(value.replace(/^\.\//, ''))
    } else if (value && typeof value === 'object') Object.values(value).forEach(walk)
  }
  walk(manifest.exports)
  for (const field of ['main', 'module', 'types']) walk(manifest[field])
  walk(typeof manifest.bin === 'string' ? { bin: manifest.bin } : manifest.bin)
  files.delete('package.json')
  return [...files]
}

/** Files of a .tgz (npm tarballs are plain ustar, paths under `package/`). */
function readTarball(buffer) {
  const tar = gunzipSync(buffer)
  const files = new Map()
  for (let offset = 0; offset + 512 <= tar.length;) {
    const header = tar.subarray(offset, offset + 512)
    if (header.every((b) => b === 0)) break
    const field = (start, length) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '')
    const prefix = field(345, 155)
    const name = (prefix ? `${prefix}/` : '') + field(0, 100)
    const size = parseInt(field(124, 12).trim() || '0', 8)
    const type = field(156, 1)
    offset += 512
    if (type === '0' || type === '') {
      files.set(name.replace(/^package\//, ''), Buffer.from(tar.subarray(offset, offset + size)))
    }
    offset += Math.ceil(size / 512) * 512
  }
  return files
}

async function pack({ dir, manifest }, dest) {
  const { stdout } = await run(
    process.execPath,
    [pnpmBin, 'pack', '--json', '--pack-destination', dest],
    {
      cwd: dir,
      maxBuffer: 16 * 1024 * 1024,
    },
  )
  const { filename } = JSON.parse(stdout.slice(stdout.indexOf('{')))
  const tarball = resolve(dir, filename)
  const buffer = await readFile(tarball)
  const files = readTarball(buffer)
  return {
    name: manifest.name,
    version: manifest.version,
    dir,
    tarball,
    size: buffer.length,
    files,
  }
}

/** Our own checks on what was packed: metadata, file list, rewritten workspace ranges. */
function checkPacked(packed, versions) {
  const errors = []
  const warnings = []
  const pkgJson = packed.files.get('package.json')
  if (!pkgJson) return { errors: ['package.json missing from the tarball'], warnings }
  const pkg = JSON.parse(pkgJson.toString('utf8'))
  for (const field of REQUIRED_FIELDS) {
    if (pkg[field] === undefined) errors.push(`package.json: "${field}" missing`)
  }
  if (pkg.engines?.node !== nodeRange)
    errors.push(`package.json: engines.node must be "${nodeRange}"`)
  for (const field of DEPENDENCY_FIELDS) {
    for (const [dep, range] of Object.entries(pkg[field] ?? {})) {
      if (String(range).startsWith('workspace:')) {
        errors.push(`${field}.${dep} is still "${range}" in the tarball`)
      } else if (versions.has(dep) && range !== `^${versions.get(dep)}`) {
        errors.push(`${field}.${dep} is "${range}", expected "^${versions.get(dep)}"`)
      }
    }
  }
  for (const framework of ['fastify', 'express']) {
    if (pkg.dependencies?.[framework] !== undefined) {
      errors.push(`${framework} must be a peer dependency, not a dependency`)
    }
  }
  for (const name of packed.files.keys()) {
    if (
      !/^(package\.json|README\.md|LICENSE|dist\/.+|bin\/[\w.-]+\.js|internal\/package\.json)$/.test(
        name,
      )
    ) {
      errors.push(`unexpected file in the tarball: ${name}`)
    }
  }
  if (!packed.files.has('LICENSE')) errors.push('LICENSE missing from the tarball')
  if (!packed.files.has('README.md')) warnings.push('README.md missing: the npm page will be empty')
  for (const file of entryFiles(pkg)) {
    if (!packed.files.has(file))
      errors.push(`${file} (named in package.json) is not in the tarball`)
  }
  return { errors, warnings }
}

async function runPublint(packed) {
  const buffer = await readFile(packed.tarball)
  const tarball = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength)
  // strict: publint's warnings (a types condition in the wrong place, a file not published...)
  // are publishing bugs too, so they fail the check; suggestions are printed only.
  const { messages, pkg } = await publint({ pack: { tarball }, level: 'suggestion', strict: true })
  const lines = messages.map((m) => `publint ${m.type}: ${formatMessage(m, pkg, { color: false })}`)
  return {
    errors: lines.filter((_, i) => messages[i].type === 'error'),
    notes: lines.filter((_, i) => messages[i].type !== 'error'),
  }
}

async function runAttw(packed) {
  const args = [attwBin, packed.tarball, '--profile', ATTW_PROFILE, '--format', 'json']
  if (ATTW_IGNORED_RULES.length > 0) args.push('--ignore-rules', ...ATTW_IGNORED_RULES)
  const result = await run(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 }).catch(
    (error) => error,
  )
  let report
  try {
    report = JSON.parse(result.stdout)
  } catch {
    return { errors: [`attw failed: ${result.stderr || result.message}`] }
  }
  if (result.code === undefined || result.code === 0) return { errors: [] }
  // Failed: print attw's own table for the human reading the log.
  const table = await run(
    process.execPath,
    [attwBin, packed.tarball, '--profile', ATTW_PROFILE, '--no-color', '--no-emoji'].concat(
      ATTW_IGNORED_RULES.length > 0 ? ['--ignore-rules', ...ATTW_IGNORED_RULES] : [],
    ),
    { maxBuffer: 64 * 1024 * 1024 },
  ).catch((error) => error)
  const kinds = Object.keys(report.problems ?? {})
  return { errors: [`attw: ${kinds.join(', ') || 'problems found'}\n${table.stdout ?? ''}`] }
}

function pnpmError(error) {
  try {
    const out = String(error.stdout)
    return JSON.parse(out.slice(out.indexOf('{'))).error.message
  } catch {
    return String(error.stderr || error.message).trim()
  }
}

function printTable(rows) {
  const headers = Object.keys(rows[0])
  const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h]).length)))
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ')
  console.log(line(headers))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const row of rows) console.log(line(headers.map((h) => row[h])))
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const dest = args.out ?? (await mkdtemp(join(tmpdir(), 'portcullis-packs-')))
  await mkdir(dest, { recursive: true })

  const packages = await listPackages()
  const versions = new Map(packages.map((p) => [p.manifest.name, p.manifest.version]))
  const skipped = []
  const ready = []
  for (const p of packages) {
    const missing = entryFiles(p.manifest).filter((f) => !existsSync(join(p.dir, f)))
    if (missing.length > 0) {
      skipped.push({ name: p.manifest.name, reason: `not built (missing ${missing.join(', ')})` })
    } else {
      ready.push(p)
    }
  }
  for (const s of skipped) {
    console.warn(`\n!!! WARNING: SKIPPING ${s.name}: ${s.reason}. Run \`pnpm build\` first.\n`)
  }

  const attempts = await Promise.all(
    ready.map((p) =>
      pack(p, dest).catch((error) => ({
        name: p.manifest.name,
        version: p.manifest.version,
        packError: `pnpm pack failed: ${pnpmError(error)}`,
      })),
    ),
  )
  const packs = attempts.filter((a) => !a.packError)
  const results = await Promise.all(
    attempts.map(async (packed) => {
      if (packed.packError) {
        const none = { errors: [], warnings: [], notes: [] }
        return {
          packed,
          own: { errors: [packed.packError], warnings: [] },
          lint: none,
          types: none,
        }
      }
      const own = checkPacked(packed, versions)
      const lint = args.packOnly ? { errors: [], notes: [] } : await runPublint(packed)
      const types = args.packOnly ? { errors: [] } : await runAttw(packed)
      return { packed, own, lint, types }
    }),
  )

  await writeFile(
    join(dest, 'packs.json'),
    `${JSON.stringify(
      {
        packages: packs.map(({ name, version, dir, tarball, files }) => ({
          name,
          version,
          dir,
          tarball,
          files: [...files.keys()].sort(),
        })),
        skipped,
      },
      null,
      2,
    )}\n`,
  )

  let failed = false
  for (const { packed, own, lint, types } of results) {
    const messages = [
      ...own.errors.map((e) => `error: ${e}`),
      ...lint.errors,
      ...types.errors,
      ...own.warnings.map((w) => `warning: ${w}`),
      ...lint.notes,
    ]
    if (messages.length > 0) {
      console.log(`\n${packed.name}:`)
      for (const m of messages) console.log(`  ${m}`)
    }
    if (own.errors.length + lint.errors.length + types.errors.length > 0) failed = true
  }

  console.log('')
  const status = (packed, errors) =>
    packed.packError || args.packOnly ? '-' : errors.length === 0 ? 'ok' : 'FAIL'
  printTable([
    ...results.map(({ packed, own, lint, types }) => ({
      package: packed.name,
      version: packed.version,
      files: packed.files?.size ?? '-',
      'kB (gz)': packed.size ? (packed.size / 1024).toFixed(1) : '-',
      'package.json': own.errors.length === 0 ? (own.warnings.length ? 'warn' : 'ok') : 'FAIL',
      publint: status(packed, lint.errors),
      [`attw (${ATTW_PROFILE})`]: status(packed, types.errors),
    })),
    ...skipped.map((s) => ({
      package: s.name,
      version: '-',
      files: '-',
      'kB (gz)': '-',
      'package.json': 'SKIPPED',
      publint: 'SKIPPED',
      [`attw (${ATTW_PROFILE})`]: 'SKIPPED',
    })),
  ])
  if (args.out) console.log(`\ntarballs and packs.json in ${dest}`)
  else await rm(dest, { recursive: true, force: true })
  if (failed) {
    console.error('\ncheck:packs failed')
    process.exitCode = 1
  }
}

await main()
