import { readFile, writeFile } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import {
  isPortcullisConfigError,
  isPortcullisError,
  type PortcullisConfigError,
} from '@portcullis/core'
import {
  compareRegisters,
  exposureFindings,
  isRegisterDocument,
  registerDocument,
  type InventoryEntry,
  type PolicyChange,
  type PortcullisApi,
} from '@portcullis/policy'
import { formatRegisterMarkdown } from './format-register.js'
import { formatInventory, isReportOnly, lacksBodyRule, lacksPublicReason } from './format-table.js'

/** Where `runAudit` writes and from where it resolves the module path. */
export interface AuditIo {
  /** Receives complete chunks of standard output, newlines included. */
  stdout(text: string): void
  /** Receives complete chunks of standard error, newlines included. */
  stderr(text: string): void
  /** The directory the app module path is resolved against. */
  cwd: string
  /** Environment for `PORTCULLIS_DEBUG`; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>
}

/** The help text of `portcullis audit`. */
export const AUDIT_USAGE = `Usage: portcullis audit <app module> [--format table|json|markdown] [--export <name>]
                        [--strict] [--baseline <portcullis.lock.json> [--update]]

Loads a Fastify app that registers Portcullis, starts it without listening (app.ready()),
prints its route inventory and exposure register, and fails when a route is unguarded, a public
route has no reason, or a field classed pii can leave a public route or a route that requires
no scope and no caller. When startup fails (invalid guards, unguarded routes), it prints the
inventory and every problem together.

Arguments:
  <app module>      path to a module whose default export is a Fastify app, or a function
                    (sync or async) that returns one; resolved against the current directory.
                    A TypeScript module needs a loader on Node.js 20:
                    NODE_OPTIONS='--import tsx' npx portcullis audit src/app.ts

Options:
  --export <name>   use this named export instead of the default export
  --format <f>      table (default): the inventory as text columns;
                    json: { "ok", "routes", "findings" } on stdout, each route with its register
                    (access, exposure, limits), plus "weakenings" with --baseline and "error"
                    when startup failed; markdown: the register, route by route
  --json            the same as --format json
  --strict          also fail when a route is in report-only mode (evaluated, not enforced)
  --baseline <file> compare the register with a committed baseline and fail on any weakening
                    (a scope removed or turned anyOf, a route made public, a caller added, a
                    claim removed, a field added or reaching a wider audience, a limit or
                    maxItems raised, report-only switched on, a new route), naming each
  --update          with --baseline: write the current register to the baseline file
  -h, --help        show this help

Exit codes:
  0  every route is guarded (and nothing weakened against the baseline)
  1  a route is unguarded, a public route has no reason, a pii field leaves an open route, a
     guard or the options are invalid, the policy is weaker than the baseline, or (with
     --strict) a route is report-only
  2  usage error, or the app could not be loaded or started

Set PORTCULLIS_DEBUG=1 to print stack traces.
`

// Startup errors that are findings about the app's guard configuration, not a failure to run
// the audit: they exit 1 like an unguarded route, whether they surface while the module is
// imported (a top-level `await app.register(...)`), in the factory, or in `app.ready()`.
const FINDING_CODES: ReadonlySet<string> = new Set([
  'PCL_UNGUARDED_ROUTE',
  'PCL_INVALID_GUARD',
  'PCL_INVALID_OPTIONS',
])

type AuditFormat = 'table' | 'json' | 'markdown'

interface AuditArgs {
  readonly module: string
  readonly exportName: string | undefined
  readonly format: AuditFormat
  readonly strict: boolean
  readonly baseline: string | undefined
  readonly update: boolean
}

const FORMATS: readonly AuditFormat[] = ['table', 'json', 'markdown']

/** The part of a Fastify instance the audit uses. */
export interface AuditedApp {
  ready(): PromiseLike<unknown>
  close(): PromiseLike<unknown>
  printRoutes(): string
  readonly portcullis?: unknown
}

class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** The audit could not run: the message says why, `cause` holds the app's own error if any. */
export class AuditError extends Error {
  override readonly name = 'AuditError'
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function parseAuditArgs(argv: readonly string[]): AuditArgs | 'help' {
  // Help wins over anything else on the line, as users reach for it when the rest is wrong.
  if (argv.includes('--help') || argv.includes('-h')) return 'help'
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        json: { type: 'boolean' },
        format: { type: 'string' },
        strict: { type: 'boolean' },
        export: { type: 'string' },
        baseline: { type: 'string' },
        update: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    throw new UsageError(messageOf(err))
  }
  const { values, positionals } = parsed
  const [module, ...extra] = positionals
  if (module === undefined) throw new UsageError('missing the app module')
  if (extra.length > 0) {
    throw new UsageError(
      `expected one app module, got ${positionals.length}: ${positionals.join(' ')}`,
    )
  }
  if (values.export === '') throw new UsageError('--export needs a name')
  const format = values.format ?? (values.json === true ? 'json' : 'table')
  if (!FORMATS.includes(format as AuditFormat)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got "${format}")`)
  }
  if (values.json === true && format !== 'json') {
    throw new UsageError(`--json contradicts --format ${format}`)
  }
  if (values.baseline === '') throw new UsageError('--baseline needs a file')
  if (values.update === true && values.baseline === undefined) {
    throw new UsageError('--update needs --baseline <file>: the baseline to write')
  }
  return {
    module,
    exportName: values.export,
    format: format as AuditFormat,
    strict: values.strict === true,
    baseline: values.baseline,
    update: values.update === true,
  }
}

function isAuditedApp(value: unknown): value is AuditedApp {
  if (typeof value !== 'object' || value === null) return false
  const app = value as Record<string, unknown>
  return (
    typeof app.ready === 'function' &&
    typeof app.close === 'function' &&
    typeof app.printRoutes === 'function'
  )
}

function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object without ready(), close() and printRoutes()'
  return typeof value
}

// What Node.js answers when it cannot run a TypeScript module by itself: an unknown extension
// (Node.js 20, or 22 before type stripping), TypeScript that stripping alone cannot run, or an
// import of './x.js' that only exists as x.ts (which TypeScript loaders map, and Node does not).
const TYPESCRIPT_ERRORS: ReadonlySet<string> = new Set([
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_INVALID_TYPESCRIPT_SYNTAX',
  'ERR_MODULE_NOT_FOUND',
])

/** How to audit a TypeScript module that failed to load, or '' for any other failure. */
function typescriptHint(module: string, err: unknown): string {
  if (!/^\.[cm]?tsx?$/u.test(extname(module))) return ''
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !TYPESCRIPT_ERRORS.has(code)) return ''
  return (
    `\n${module} is TypeScript, which Node.js ${process.versions.node} does not load by itself. Either` +
    `\n  - load it with tsx (npm install --save-dev tsx): NODE_OPTIONS='--import tsx' npx portcullis audit ${module}` +
    `\n  - or build the app first and audit the JavaScript it builds to (npx portcullis audit dist/app.js)`
  )
}

/** Loads the app module's default (or named) export: an instance or a factory returning one. */
export async function loadApp(
  args: Pick<AuditArgs, 'module' | 'exportName'>,
  cwd: string,
): Promise<AuditedApp> {
  const href = pathToFileURL(resolve(cwd, args.module)).href
  let namespace: Record<string, unknown>
  try {
    namespace = (await import(href)) as Record<string, unknown>
  } catch (err) {
    throw new AuditError(
      `cannot load ${args.module}: ${messageOf(err)}${typescriptHint(args.module, err)}`,
      { cause: err },
    )
  }
  const name = args.exportName ?? 'default'
  const what = args.exportName === undefined ? 'the default export' : `the export "${name}"`
  let value: unknown = namespace[name]
  if (value === undefined) {
    const missing = args.exportName === undefined ? 'default export' : `export named "${name}"`
    const names = Object.keys(namespace).filter((key) => namespace[key] !== undefined)
    throw new AuditError(
      `${args.module} has no ${missing}` +
        (names.length === 0 ? '' : ` (its exports: ${names.join(', ')})`),
    )
  }
  if (typeof value === 'function') {
    try {
      // A factory may be async, and awaiting a Fastify instance loads its queued plugins.
      value = await (value as () => unknown)()
    } catch (err) {
      throw new AuditError(`${what} of ${args.module} threw: ${messageOf(err)}`, { cause: err })
    }
  }
  if (!isAuditedApp(value)) {
    throw new AuditError(
      `${what} of ${args.module} is not a Fastify app: expected an instance (with ready(), ` +
        `close() and printRoutes()) or a function returning one, got ${describeValue(value)}`,
    )
  }
  return value
}

function isFinding(err: unknown): err is PortcullisConfigError {
  return isPortcullisConfigError(err) && FINDING_CODES.has(err.code)
}

function hasInventory(app: AuditedApp): boolean {
  const api = app.portcullis as Partial<PortcullisApi> | undefined
  return typeof api === 'object' && api !== null && typeof api.routes === 'function'
}

function portcullisOf(app: AuditedApp, module: string): PortcullisApi {
  const api = app.portcullis as Partial<PortcullisApi> | undefined
  if (typeof api !== 'object' || api === null || typeof api.routes !== 'function') {
    throw new AuditError(
      `Portcullis is not registered on the app from ${module}: ` +
        'register @portcullis/fastify with `await app.register(portcullis, options)` before declaring routes',
    )
  }
  return api as PortcullisApi
}

function routeLabel(entry: InventoryEntry): string {
  const constraints = entry.constraints === null ? '' : ` ${JSON.stringify(entry.constraints)}`
  return `${entry.method} ${entry.url}${constraints}`
}

function findingsOf(
  entries: readonly InventoryEntry[],
  strict: boolean,
  invalid: (entry: InventoryEntry) => boolean,
): string[] {
  const findings: string[] = []
  for (const entry of entries) {
    const label = routeLabel(entry)
    if (!entry.guarded) {
      // A route whose guard startup refused is reported with its error, not as unguarded.
      if (!invalid(entry)) findings.push(`${label} has no guard`)
    } else if (lacksPublicReason(entry)) findings.push(`${label} is public without a reason`)
    if (strict && isReportOnly(entry)) {
      findings.push(`${label} is report-only: its guard is evaluated but not enforced`)
    }
  }
  return findings
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

function summaryOf(
  entries: readonly InventoryEntry[],
  invalid: (entry: InventoryEntry) => boolean,
): string {
  const publicCount = entries.filter((e) => e.guarded && e.public !== null).length
  const refused = entries.filter((e) => !e.guarded && invalid(e)).length
  const unguarded = entries.filter((e) => !e.guarded).length - refused
  const guarded = entries.length - publicCount - unguarded - refused
  const reportOnly = entries.filter(isReportOnly).length
  return (
    `${plural(entries.length, 'route')}: ${guarded} guarded, ${publicCount} public, ` +
    `${unguarded} unguarded` +
    (refused === 0 ? '' : `, ${refused} with an invalid guard`) +
    (reportOnly === 0 ? '' : `, ${reportOnly} report-only (not enforced)`)
  )
}

// Not a finding (requireBody turns it into a startup failure): a note under the summary, so a
// reviewer sees which write routes accept any field.
function bodyNote(entries: readonly InventoryEntry[]): string {
  const open = entries.filter((entry) => entry.guarded && lacksBodyRule(entry)).map(routeLabel)
  if (open.length === 0) return ''
  return (
    `${plural(open.length, 'route')} accept${open.length === 1 ? 's' : ''} a request body without guard.body (any field may be written):\n` +
    open.map((route) => `  - ${route}\n`).join('')
  )
}

/**
 * The findings a startup error holds: each one it combines, or itself. Read defensively: the
 * error may come from an older `@portcullis/core`, without `errors`.
 */
function startupFindings(err: PortcullisConfigError): readonly PortcullisConfigError[] {
  const errors = (err as { errors?: unknown }).errors
  return Array.isArray(errors) && errors.length > 0
    ? (errors as readonly PortcullisConfigError[])
    : [err]
}

/**
 * Whether a row is a route whose guard startup refused: its label names the route's methods (a
 * GET's error stands for the HEAD route Fastify adds with the same guard), then its URL.
 */
function invalidRows(errors: readonly PortcullisConfigError[]): (entry: InventoryEntry) => boolean {
  const routes = errors
    .filter((e) => e.code === 'PCL_INVALID_GUARD' && e.route !== undefined)
    .map((e) => {
      const label = e.route!
      const space = label.indexOf(' ')
      return { methods: label.slice(0, space).split(','), where: label.slice(space + 1) }
    })
  return (entry) => {
    const where = routeLabel(entry).slice(entry.method.length + 1)
    return routes.some(
      (route) =>
        route.where === where &&
        (route.methods.includes(entry.method) ||
          (entry.method === 'HEAD' && route.methods.includes('GET'))),
    )
  }
}

function indent(text: string): string {
  return text.replace(/\n/g, '\n    ')
}

/** What the baseline says: the weakenings found, or that the baseline was written. */
interface BaselineOutcome {
  readonly weakenings: readonly PolicyChange[]
  readonly wrote: string | null
}

/**
 * Compares the register with the baseline file, or writes it (`--update`). A missing or
 * unreadable baseline cannot be compared: the audit cannot run (exit 2), never a pass.
 */
async function checkBaseline(
  entries: readonly InventoryEntry[],
  args: AuditArgs,
  cwd: string,
  failure: PortcullisConfigError | undefined,
): Promise<BaselineOutcome> {
  if (args.baseline === undefined) return { weakenings: [], wrote: null }
  const path = resolve(cwd, args.baseline)
  const current = registerDocument(entries)
  if (args.update) {
    if (failure !== undefined) {
      throw new AuditError(
        `not writing ${args.baseline}: app.ready() failed (${failure.code}), so the register is incomplete`,
      )
    }
    await writeFile(path, `${JSON.stringify(current, null, 2)}\n`)
    return { weakenings: [], wrote: args.baseline }
  }
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new AuditError(
      `cannot read the baseline ${args.baseline}: ${messageOf(err)} (create it with --baseline ${args.baseline} --update)`,
      { cause: err },
    )
  }
  let baseline: unknown
  try {
    baseline = JSON.parse(text)
  } catch (err) {
    throw new AuditError(`the baseline ${args.baseline} is not JSON: ${messageOf(err)}`)
  }
  if (!isRegisterDocument(baseline)) {
    throw new AuditError(
      `the baseline ${args.baseline} is not a Portcullis register (expected "version": "portcullis-register/1"); rewrite it with --update`,
    )
  }
  return { weakenings: compareRegisters(baseline, current), wrote: null }
}

function reportInventory(
  entries: readonly InventoryEntry[],
  args: AuditArgs,
  io: AuditIo,
  baseline: BaselineOutcome,
  failure?: PortcullisConfigError,
): number {
  const startup = failure === undefined ? [] : startupFindings(failure)
  const invalid = invalidRows(startup)
  const unguardedRows = new Set(entries.filter((e) => !e.guarded).map(routeLabel))
  const findings = [
    // Every invalid guard, with the message that says what is wrong...
    ...startup.filter((e) => e.code === 'PCL_INVALID_GUARD').map((e) => e.message),
    // ...every route of the inventory without a guard...
    ...findingsOf(entries, args.strict, invalid),
    // ...and what else startup refused that the rows do not show (hooks before the guard).
    ...startup
      .filter((e) => e.code !== 'PCL_INVALID_GUARD')
      .filter((e) => e.routes.length === 0 || !e.routes.every((r) => unguardedRows.has(r)))
      .map((e) => {
        const unlisted = e.routes.filter((route) => !e.message.includes(route))
        return `${e.code}: ${e.message}${unlisted.length === 0 ? '' : ` (${unlisted.join(', ')})`}`
      }),
    // ...and every pii field that can leave a route open to anyone.
    ...exposureFindings(entries).map((f) => f.message),
  ]
  const { weakenings } = baseline
  const ok = findings.length === 0 && weakenings.length === 0
  if (args.format === 'json') {
    const error =
      failure === undefined
        ? {}
        : { error: { code: failure.code, message: failure.message, routes: failure.routes } }
    const report = {
      ok,
      routes: entries,
      findings,
      ...(args.baseline === undefined ? {} : { weakenings }),
      ...error,
    }
    io.stdout(`${JSON.stringify(report, null, 2)}\n`)
  } else {
    io.stdout(
      args.format === 'markdown'
        ? formatRegisterMarkdown(entries)
        : `${formatInventory(entries, invalid)}\n\n${summaryOf(entries, invalid)}\n${bodyNote(entries)}`,
    )
  }
  if (baseline.wrote !== null) io.stderr(`portcullis audit: wrote the baseline ${baseline.wrote}\n`)
  if (args.format !== 'json' && findings.length > 0) {
    const failed = failure === undefined ? '' : `app.ready() failed (${failure.code}); `
    io.stderr(
      `portcullis audit: ${failed}${plural(findings.length, 'problem')}:\n` +
        findings.map((finding) => `  - ${indent(finding)}\n`).join(''),
    )
  }
  if (args.format !== 'json' && weakenings.length > 0) {
    io.stderr(
      `portcullis audit: ${plural(weakenings.length, 'weakening')} against ${args.baseline ?? ''}:\n` +
        weakenings.map((w) => `  - ${w.route}: ${indent(w.change)}\n`).join('') +
        '  Review them; if intended, rewrite the baseline with --update and commit it.\n',
    )
  }
  return ok ? 0 : 1
}

function reportFailure(err: unknown, args: AuditArgs, io: AuditIo, debug: boolean): number {
  const original = err instanceof AuditError && err.cause !== undefined ? err.cause : err
  if (debug) {
    io.stderr(
      `${original instanceof Error ? (original.stack ?? original.message) : String(original)}\n`,
    )
  }
  if (isPortcullisError(original) && FINDING_CODES.has(original.code)) {
    const listed = (original as { routes?: unknown }).routes
    const routes = Array.isArray(listed) ? listed.map(String) : []
    if (args.format === 'json') {
      const error = { code: original.code, message: original.message, routes }
      io.stdout(`${JSON.stringify({ ok: false, error }, null, 2)}\n`)
    } else {
      // Most messages already list their routes; print only those they leave out.
      const unlisted = routes.filter((route) => !original.message.includes(route))
      io.stderr(
        `portcullis audit: ${original.code}: ${original.message}\n` +
          unlisted.map((route) => `  - ${route}\n`).join(''),
      )
    }
    return 1
  }
  io.stderr(`portcullis audit: ${messageOf(err)}\n`)
  return 2
}

export async function closeQuietly(app: AuditedApp): Promise<void> {
  try {
    await app.close()
  } catch {
    // The verdict is already made; a failing onClose hook must not change the exit code.
  }
}

/**
 * Runs `portcullis audit`: loads the app module, starts the app without listening, prints the
 * route inventory and resolves with the exit code (0 all guarded, 1 findings, 2 could not run).
 * It never calls `process.exit`, so it runs in-process in tests.
 *
 * @param argv - The arguments after `audit`, e.g. `['./dist/app.js', '--json']`.
 * @example
 * ```ts
 * process.exitCode = await runAudit(['./dist/app.js'], {
 *   stdout: (text) => process.stdout.write(text),
 *   stderr: (text) => process.stderr.write(text),
 *   cwd: process.cwd(),
 * })
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/operations.md
 */
export async function runAudit(argv: readonly string[], io: AuditIo): Promise<number> {
  let args: AuditArgs | 'help'
  try {
    args = parseAuditArgs(argv)
  } catch (err) {
    io.stderr(`portcullis audit: ${messageOf(err)}\n\n${AUDIT_USAGE}`)
    return 2
  }
  if (args === 'help') {
    io.stdout(AUDIT_USAGE)
    return 0
  }
  const debug = (io.env ?? process.env).PORTCULLIS_DEBUG === '1'
  let app: AuditedApp | undefined
  try {
    app = await loadApp(args, io.cwd)
    let failure: PortcullisConfigError | undefined
    try {
      await app.ready()
    } catch (err) {
      // A finding about the guards (an invalid guard, an unguarded route) still leaves the
      // inventory readable: the table and every finding are printed together.
      if (!isFinding(err) || !hasInventory(app)) {
        throw new AuditError(`app.ready() failed: ${messageOf(err)}`, { cause: err })
      }
      if (debug) io.stderr(`${err.stack ?? err.message}\n`)
      failure = err
    }
    const entries = portcullisOf(app, args.module).routes()
    const baseline = await checkBaseline(entries, args, io.cwd, failure)
    return reportInventory(entries, args, io, baseline, failure)
  } catch (err) {
    return reportFailure(err, args, io, debug)
  } finally {
    if (app !== undefined) await closeQuietly(app)
  }
}
