import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { isPortcullisError } from '@portcullis/core'
import type { InventoryEntry, PortcullisApi } from '@portcullis/policy'
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
export const AUDIT_USAGE = `Usage: portcullis audit <app module> [--json] [--export <name>] [--strict]

Loads a Fastify app that registers Portcullis, starts it without listening (app.ready()),
prints its route inventory and fails when a route is unguarded or a public route has no reason.

Arguments:
  <app module>      path to a module whose default export is a Fastify app, or a function
                    (sync or async) that returns one; resolved against the current directory

Options:
  --export <name>   use this named export instead of the default export
  --json            print { "ok", "routes" } (or { "ok": false, "error" }) as JSON on stdout
  --strict          also fail when a route is in report-only mode (evaluated, not enforced)
  -h, --help        show this help

Exit codes:
  0  every route is guarded
  1  a route is unguarded, a public route has no reason, a guard or the options are invalid,
     or (with --strict) a route is report-only
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

interface AuditArgs {
  readonly module: string
  readonly exportName: string | undefined
  readonly json: boolean
  readonly strict: boolean
}

/** The part of a Fastify instance the audit uses. */
interface AuditedApp {
  ready(): PromiseLike<unknown>
  close(): PromiseLike<unknown>
  printRoutes(): string
  readonly portcullis?: unknown
}

class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** The audit could not run: the message says why, `cause` holds the app's own error if any. */
class AuditError extends Error {
  override readonly name = 'AuditError'
}

function messageOf(err: unknown): string {
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
        strict: { type: 'boolean' },
        export: { type: 'string' },
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
  return {
    module,
    exportName: values.export,
    json: values.json === true,
    strict: values.strict === true,
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

async function loadApp(args: AuditArgs, cwd: string): Promise<AuditedApp> {
  const href = pathToFileURL(resolve(cwd, args.module)).href
  let namespace: Record<string, unknown>
  try {
    namespace = (await import(href)) as Record<string, unknown>
  } catch (err) {
    throw new AuditError(`cannot load ${args.module}: ${messageOf(err)}`, { cause: err })
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

function findingsOf(entries: readonly InventoryEntry[], strict: boolean): string[] {
  const findings: string[] = []
  for (const entry of entries) {
    const label = routeLabel(entry)
    if (!entry.guarded) findings.push(`${label} has no guard`)
    else if (lacksPublicReason(entry)) findings.push(`${label} is public without a reason`)
    if (strict && isReportOnly(entry)) {
      findings.push(`${label} is report-only: its guard is evaluated but not enforced`)
    }
  }
  return findings
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

function summaryOf(entries: readonly InventoryEntry[]): string {
  const publicCount = entries.filter((e) => e.guarded && e.public !== null).length
  const unguarded = entries.filter((e) => !e.guarded).length
  const guarded = entries.length - publicCount - unguarded
  const reportOnly = entries.filter(isReportOnly).length
  return (
    `${plural(entries.length, 'route')}: ${guarded} guarded, ${publicCount} public, ` +
    `${unguarded} unguarded` +
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

function reportInventory(entries: readonly InventoryEntry[], args: AuditArgs, io: AuditIo): number {
  const findings = findingsOf(entries, args.strict)
  const ok = findings.length === 0
  if (args.json) {
    io.stdout(`${JSON.stringify({ ok, routes: entries }, null, 2)}\n`)
  } else {
    io.stdout(`${formatInventory(entries)}\n\n${summaryOf(entries)}\n${bodyNote(entries)}`)
    if (!ok) {
      io.stderr(
        `portcullis audit: ${plural(findings.length, 'problem')}:\n` +
          findings.map((finding) => `  - ${finding}\n`).join(''),
      )
    }
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
    if (args.json) {
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

async function closeQuietly(app: AuditedApp): Promise<void> {
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
    try {
      await app.ready()
    } catch (err) {
      throw new AuditError(`app.ready() failed: ${messageOf(err)}`, { cause: err })
    }
    return reportInventory(portcullisOf(app, args.module).routes(), args, io)
  } catch (err) {
    return reportFailure(err, args, io, debug)
  } finally {
    if (app !== undefined) await closeQuietly(app)
  }
}
