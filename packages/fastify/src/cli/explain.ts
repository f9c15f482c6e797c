import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { PortcullisApi, RouteExplanation } from '@portcullis/policy'
import { AuditError, closeQuietly, loadApp, messageOf, type AuditIo } from './audit.js'

/** The help text of `portcullis explain`. */
export const EXPLAIN_USAGE = `Usage: portcullis explain <app module> --route '<METHOD> <url>' [--claims <claims.json>]
                          [--query <a=1&b=2>] [--export <name>] [--json]

Loads the app like portcullis audit and prints what the route's compiled guard decides for a
token with these claims, and why, rule by rule. The decision comes from the guard the app
runs (the same evaluator), not from a copy of its rules. Rate limits are not counted.

Options:
  --route <r>       the method and a URL or route template: 'GET /v1/videos/42' or
                    'GET /v1/videos/:id'
  --claims <file>   a JSON file with the token's claims (scope, client_id, tenant...); without
                    it, the request has no token
  --query <q>       query values, for { query } claim rules
  --export <name>   use this named export instead of the default export
  --json            print the explanation as JSON
  -h, --help        show this help

Exit codes:
  0  the guard allows the request (or only reports its denial: report-only)
  1  the guard denies it
  2  usage error, the app or the claims could not be loaded, or no route matches
`

class UsageError extends Error {
  override readonly name = 'UsageError'
}

interface ExplainArgs {
  readonly module: string
  readonly exportName: string | undefined
  readonly method: string
  readonly url: string
  readonly claims: string | undefined
  readonly query: string | undefined
  readonly json: boolean
}

function parseExplainArgs(argv: readonly string[]): ExplainArgs | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help'
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        route: { type: 'string' },
        claims: { type: 'string' },
        query: { type: 'string' },
        export: { type: 'string' },
        json: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    throw new UsageError(messageOf(err))
  }
  const { values, positionals } = parsed
  if (positionals.length !== 1) throw new UsageError('expected one app module')
  const route = /^\s*([A-Za-z]+)\s+(\/\S*)\s*$/u.exec(values.route ?? '')
  if (route === null) {
    throw new UsageError("--route must be a method and a path: --route 'GET /v1/videos/42'")
  }
  return {
    module: positionals[0]!,
    exportName: values.export,
    method: route[1]!.toUpperCase(),
    url: route[2]!,
    claims: values.claims,
    query: values.query,
    json: values.json === true,
  }
}

async function readClaims(file: string | undefined, cwd: string) {
  if (file === undefined) return null
  let value: unknown
  try {
    value = JSON.parse(await readFile(resolve(cwd, file), 'utf8'))
  } catch (err) {
    throw new AuditError(`cannot read the claims ${file}: ${messageOf(err)}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuditError(`the claims ${file} must hold a JSON object (the token's payload)`)
  }
  return value as Record<string, unknown>
}

/** The explanation as text: the route, each rule with its outcome, then the decision. */
export function formatExplanation(explained: RouteExplanation): string {
  const params = Object.keys(explained.params).length
  const lines = [
    `${explained.route}${params === 0 ? '' : ` (params ${JSON.stringify(explained.params)})`}`,
  ]
  explained.steps.forEach((step, i) => {
    const code = step.code === null ? '' : ` (${step.code})`
    lines.push(
      `  ${i + 1}. ${step.requirement}: ${step.outcome === 'pass' ? 'pass' : `FAIL${code}`}`,
    )
  })
  const verdict =
    explained.decision === 'allow'
      ? `ALLOW (${explained.code})`
      : explained.decision === 'report'
        ? `REPORT-ONLY: served, and the denial ${explained.code} is audited`
        : `DENY ${explained.status} ${explained.code}`
  lines.push(`Decision: ${verdict}`)
  return `${lines.join('\n')}\n`
}

/**
 * Runs `portcullis explain` and resolves with the exit code (0 allowed, 1 denied, 2 could not
 * run). Never calls `process.exit`.
 */
export async function runExplain(argv: readonly string[], io: AuditIo): Promise<number> {
  let args: ExplainArgs | 'help'
  try {
    args = parseExplainArgs(argv)
  } catch (err) {
    io.stderr(`portcullis explain: ${messageOf(err)}\n\n${EXPLAIN_USAGE}`)
    return 2
  }
  if (args === 'help') {
    io.stdout(EXPLAIN_USAGE)
    return 0
  }
  let app
  try {
    const claims = await readClaims(args.claims, io.cwd)
    app = await loadApp(args, io.cwd)
    await app.ready()
    const api = app.portcullis as Partial<PortcullisApi> | undefined
    if (typeof api?.explain !== 'function') {
      throw new AuditError(
        `Portcullis (with explain) is not registered on the app from ${args.module}`,
      )
    }
    const query = Object.fromEntries(new URLSearchParams(args.query ?? ''))
    const explained = await api.explain({ method: args.method, url: args.url, claims, query })
    io.stdout(args.json ? `${JSON.stringify(explained, null, 2)}\n` : formatExplanation(explained))
    return explained.decision === 'deny' ? 1 : 0
  } catch (err) {
    io.stderr(`portcullis explain: ${messageOf(err)}\n`)
    return 2
  } finally {
    if (app !== undefined) await closeQuietly(app)
  }
}
