import type { InventoryEntry } from '@portcullis/policy'

const HEADER = ['METHOD', 'URL', 'ACCESS', 'RATE LIMIT', 'RESPONSE', 'BODY'] as const
const GAP = '  '

/**
 * True when the route's guard is evaluated but not enforced. Read defensively: the
 * `reportOnly` field arrives with the report-only rollout, and an older `@portcullis/policy`
 * leaves it out.
 */
export function isReportOnly(entry: InventoryEntry): boolean {
  return (entry as { reportOnly?: boolean }).reportOnly === true
}

/** True when the route is public but its reason is empty (nothing for a reviewer to check). */
export function lacksPublicReason(entry: InventoryEntry): boolean {
  return entry.guarded && entry.public !== null && entry.public.trim() === ''
}

/**
 * What a caller needs to reach the route, as the ACCESS column shows it: `UNGUARDED` (or
 * `INVALID GUARD` when startup refused its guard), `public: <reason>`, or the policy summary,
 * prefixed with `REPORT-ONLY` when it is not enforced.
 */
export function accessLabel(entry: InventoryEntry, invalid = false): string {
  let access: string
  if (!entry.guarded) access = invalid ? 'INVALID GUARD' : 'UNGUARDED'
  else if (entry.public !== null) {
    access = lacksPublicReason(entry) ? 'public: (no reason)' : `public: ${entry.public}`
  } else access = entry.policy ?? 'guarded'
  // The policy summary may already carry the mark (`REPORT-ONLY (not enforced): ...`): once is loud
  // enough, twice is noise.
  if (!isReportOnly(entry) || access.startsWith('REPORT-ONLY')) return access
  return `REPORT-ONLY ${access}`
}

function urlLabel(entry: InventoryEntry): string {
  return entry.constraints === null
    ? entry.url
    : `${entry.url} ${JSON.stringify(entry.constraints)}`
}

// Reasons and URLs are written by app authors and end up in CI logs: a newline would break the
// table and an escape sequence could rewrite the terminal, so control characters are shown as
// escapes instead.
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => {
    return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`
  })
}

/**
 * Renders rows as plain text columns separated by two spaces, the first row being the header.
 * No colours and no trailing spaces, so the output diffs cleanly and greps well in CI logs.
 */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => row.map(printable))
  const widths: number[] = []
  for (const row of cells) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length)
    })
  }
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join(GAP)
        .trimEnd(),
    )
    .join('\n')
}

/**
 * True when the route accepts a request body without a `guard.body` rule (the inventory flags
 * it). Read defensively: an older `@portcullis/policy` has no `body` column.
 */
export function lacksBodyRule(entry: InventoryEntry): boolean {
  const body = (entry as { body?: string | null }).body
  return typeof body === 'string' && body.startsWith('NONE')
}

/**
 * The route inventory as a table: METHOD, URL (with constraints), ACCESS, RATE LIMIT, RESPONSE,
 * BODY, with `-` where a route has no rate limit, response allowlist or body rule; then BUDGET
 * and ENUMERATION when any route declares an egress budget or an enumeration limit. `invalid`
 * tells the rows whose guard startup refused (`INVALID GUARD` rather than `UNGUARDED`).
 *
 * @example
 * ```ts
 * process.stdout.write(`${formatInventory(app.portcullis.routes())}\n`)
 * ```
 */
export function formatInventory(
  entries: readonly InventoryEntry[],
  invalid: (entry: InventoryEntry) => boolean = () => false,
): string {
  // The egress columns appear once a route declares a budget or an enumeration limit.
  const egress = entries.some((entry) => egressOf(entry).some((cell) => cell !== null))
  return formatTable([
    egress ? [...HEADER, ...EGRESS_HEADER] : HEADER,
    ...entries.map((entry) => [
      entry.method,
      urlLabel(entry),
      accessLabel(entry, invalid(entry)),
      entry.rateLimit ?? '-',
      entry.response ?? '-',
      (entry as { body?: string | null }).body ?? '-',
      ...(egress ? egressOf(entry).map((cell) => cell ?? '-') : []),
    ]),
  ])
}

const EGRESS_HEADER = ['BUDGET', 'ENUMERATION'] as const

/**
 * The route's egress budget and enumeration limit summaries. Read defensively: an older
 * `@portcullis/policy` has neither column.
 */
function egressOf(entry: InventoryEntry): [string | null, string | null] {
  const { budget, enumeration } = entry as { budget?: string | null; enumeration?: string | null }
  return [budget ?? null, enumeration ?? null]
}
