import type { InventoryEntry, LimitExposure, RouteAccess } from '@portcullis/policy'
import { accessLabel } from './format-table.js'

// Markdown table cells: pipes would split the cell, newlines end the table, control characters
// could rewrite a terminal that prints the file.
function cell(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ')
      .replace(/\\/g, '\\\\')
      .replace(/\|/g, '\\|')
      .replace(/`/g, "'")
  )
}

function whoMayCall(entry: InventoryEntry): string {
  const access = (entry as { access?: RouteAccess | null }).access
  if (access === null || access === undefined) return accessLabel(entry)
  if (access.public !== null) return `public: ${access.public}`
  const parts: string[] = []
  const scopes = [...access.allOf, ...access.anyOf.map((g) => `(${g.join(' OR ')})`)]
  if (scopes.length > 0) parts.push(`scopes ${scopes.join(' AND ')}`)
  if (access.callers !== null) parts.push(`callers ${access.callers.join(', ')}`)
  const claims = Object.entries(access.claims)
  if (claims.length > 0) parts.push(`claims ${claims.map(([c, m]) => `${c} ${m}`).join(', ')}`)
  if (access.checks.length > 0) parts.push(`checks ${access.checks.join(', ')}`)
  if (access.acr !== null) parts.push(`acr ${access.acr.join(', ')}`)
  if (parts.length === 0) parts.push('any verified token (no scope, no caller)')
  return `${access.reportOnly ? 'REPORT-ONLY ' : ''}${parts.join('; ')}`
}

function limitText(limit: LimitExposure | null): string {
  if (limit === null) return 'none'
  if (limit.kind === 'exempt') return `exempt: ${limit.reason}`
  const overrides = limit.overrides.map(
    (o) => `; ${o.max} for ${[...(o.callers ?? []), ...(o.scopes ?? [])].join(', ')}`,
  )
  return `${limit.max} per ${limit.timeWindow} ms by ${limit.key}${limit.bucket === null ? '' : ` (bucket ${limit.bucket})`}${overrides.join('')}`
}

function jsonText(value: unknown): string {
  return value === null || value === undefined ? 'none' : JSON.stringify(value)
}

/**
 * The register as Markdown, for a review or an auditor: per route, who may call it, its limits,
 * and a table of the fields that can leave it per status list and audience, with their class.
 */
export function formatRegisterMarkdown(entries: readonly InventoryEntry[]): string {
  const lines = ['# Exposure register', '']
  const gets = new Set(entries.filter((e) => e.method === 'GET').map((e) => e.url))
  for (const entry of entries) {
    if (entry.method === 'HEAD' && gets.has(entry.url)) continue
    const constraints = entry.constraints === null ? '' : ` ${JSON.stringify(entry.constraints)}`
    lines.push(`## ${cell(`${entry.method} ${entry.url}${constraints}`)}`, '')
    lines.push(`- Who may call: ${cell(whoMayCall(entry))}`)
    const limits = entry.limits as InventoryEntry['limits'] | undefined
    lines.push(`- Rate limit: ${cell(limitText(limits?.rateLimit ?? null))}`)
    if (limits?.budget !== null && limits?.budget !== undefined) {
      lines.push(`- Budget: ${cell(jsonText(limits.budget))}`)
    }
    if (limits?.enumeration !== null && limits?.enumeration !== undefined) {
      lines.push(`- Enumeration limit: ${cell(jsonText(limits.enumeration))}`)
    }
    const exposure = entry.exposure as InventoryEntry['exposure'] | undefined
    if (exposure === undefined || exposure.kind !== 'allowlist') {
      const kind = exposure?.kind ?? 'unknown'
      lines.push(
        `- Response: ${kind === 'passthrough' ? `passthrough (not inspected): ${cell(exposure?.reason ?? '')}` : kind === 'none' ? 'NOT ALLOWLISTED: any field can leave' : 'unknown (no allowlist step)'}`,
        '',
      )
      continue
    }
    lines.push(`- Response mode: ${exposure.mode ?? 'strip'}`)
    if (exposure.maxItems !== null) lines.push(`- maxItems: ${cell(jsonText(exposure.maxItems))}`)
    lines.push(
      `- Classes that can leave: ${exposure.classes.length === 0 ? 'none' : exposure.classes.join(', ')}`,
      '',
      '| status | audience | field | class |',
      '| --- | --- | --- | --- |',
    )
    for (const group of exposure.groups) {
      for (const field of group.fields) {
        const via = field.via === undefined ? '' : ` (via ${field.via})`
        lines.push(
          `| ${cell(group.status)} | ${group.scope === null ? 'any caller' : cell(`holders of ${group.scope}`)} | ${cell(field.path + via)} | ${field.class === null ? '-' : cell(field.class)} |`,
        )
      }
    }
    lines.push('')
  }
  return `${lines.join('\n')}\n`
}
