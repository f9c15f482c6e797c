import { durationIn } from '@portcullis/core/internal'
import type { InventoryEntry } from './inventory.js'
import {
  requiresNoScopeOrCaller,
  type MaxItemsExposure,
  type RouteAccess,
  type RouteExposure,
  type RouteLimits,
} from './register.js'

/** The version tag of a register document (`portcullis.lock.json`). */
export const REGISTER_VERSION = 'portcullis-register/1'

/** One route of a register document: who may call it, what can leave it, its limits. */
export interface RegisteredRoute {
  readonly access: RouteAccess | null
  readonly exposure: Omit<RouteExposure, 'classes'> & { readonly classes: readonly string[] }
  readonly limits: RouteLimits
}

/**
 * The register as a document: what `portcullis audit --format json` exports and what
 * `portcullis.lock.json` holds. Routes are keyed by `METHOD /url` (constraints appended as
 * JSON), sorted; a HEAD route that shares its GET route's guard is left out.
 */
export interface RegisterDocument {
  readonly version: typeof REGISTER_VERSION
  readonly routes: Readonly<Record<string, RegisteredRoute>>
}

/** A weakening of the policy against a baseline: the route and what changed. */
export interface PolicyChange {
  readonly route: string
  readonly change: string
}

/** A field of a sensitive class that can leave a route open to too wide an audience. */
export interface ExposureFinding {
  readonly route: string
  readonly field: string
  readonly class: string
  readonly status: string
  readonly message: string
}

/** `GET /v1/videos/:id`, with constraints as JSON when the route has any. */
export function registerKey(entry: Pick<InventoryEntry, 'method' | 'url' | 'constraints'>): string {
  const constraints =
    entry.constraints === null || Object.keys(entry.constraints).length === 0
      ? ''
      : ` ${JSON.stringify(entry.constraints)}`
  return `${entry.method} ${entry.url}${constraints}`
}

/** Inventory rows without the HEAD rows that only mirror a GET row (same guard, same fields). */
function distinctRows(entries: readonly InventoryEntry[]): InventoryEntry[] {
  const gets = new Set(
    entries.filter((e) => e.method === 'GET').map((e) => registerKey(e).slice(4)),
  )
  return entries.filter((e) => !(e.method === 'HEAD' && gets.has(registerKey(e).slice(5))))
}

/**
 * The register of an inventory (`app.portcullis.routes()`, `guard.routes()`) as a document:
 * what a baseline stores and {@link compareRegisters} compares. Equal policies give equal
 * documents, whatever order the routes were declared in and however the guards were written.
 */
export function registerDocument(entries: readonly InventoryEntry[]): RegisterDocument {
  const routes: Record<string, RegisteredRoute> = {}
  const keys = distinctRows(entries)
    .map((entry) => [registerKey(entry), entry] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  for (const [key, entry] of keys) {
    routes[key] = { access: entry.access, exposure: entry.exposure, limits: entry.limits }
  }
  // Through JSON, so that a document built now and one read from a file compare alike.
  return JSON.parse(JSON.stringify({ version: REGISTER_VERSION, routes })) as RegisterDocument
}

/** The classes the audit refuses on a route open to anyone (public, or no scope and no caller). */
const SENSITIVE: ReadonlySet<string> = new Set(['pii'])

/**
 * Fields classed `pii` that can leave a public route, or a route that requires neither a scope
 * nor a caller (fields shown only to a `byScope` scope are behind that scope). `portcullis
 * audit` fails on each one.
 */
export function exposureFindings(entries: readonly InventoryEntry[]): ExposureFinding[] {
  const findings: ExposureFinding[] = []
  for (const entry of distinctRows(entries)) {
    const access = entry.access
    if (access === null || access === undefined) continue
    const open = access.public !== null ? 'public' : requiresNoScopeOrCaller(access) ? 'open' : null
    if (open === null) continue
    const route = registerKey(entry)
    // Read defensively: rows from an older @portcullis/policy have no exposure.
    for (const group of (entry.exposure as RouteExposure | undefined)?.groups ?? []) {
      if (group.scope !== null) continue
      for (const field of group.fields) {
        if (field.class === null || !SENSITIVE.has(field.class)) continue
        const audience =
          open === 'public'
            ? `public route (${access.public})`
            : 'route that requires no scope and no caller'
        findings.push({
          route,
          field: field.path,
          class: field.class,
          status: group.status,
          message: `${route}: field '${field.path}' (${field.class}${field.via === undefined ? '' : `, through '${field.via}'`}) can leave this ${audience} in ${group.status === 'success' ? 'success responses' : `${group.status} responses`}`,
        })
      }
    }
  }
  return findings
}

// -- Comparison --------------------------------------------------------------------------------

const ANY = '*'

function quoted(list: Iterable<string>): string {
  return [...list].map((s) => `'${s}'`).join(', ')
}

function accessChanges(base: RouteAccess | null, next: RouteAccess | null): string[] {
  if (base === null) return []
  if (next === null) return ['the route lost its guard']
  const changes: string[] = []
  if (base.public === null && next.public !== null) {
    changes.push(`route made public ('${next.public}')`)
    return changes
  }
  if (next.public !== null) return changes
  const nextAny = next.anyOf.flat()
  for (const scope of base.allOf) {
    if (next.allOf.includes(scope)) continue
    changes.push(
      nextAny.includes(scope)
        ? `scope '${scope}' turned from allOf into anyOf (no longer required)`
        : `scope '${scope}' removed`,
    )
  }
  for (const group of base.anyOf) {
    const kept =
      next.allOf.some((s) => group.includes(s)) ||
      next.anyOf.some((h) => h.every((s) => group.includes(s)))
    if (kept) continue
    const wider = next.anyOf.find((h) => group.every((s) => h.includes(s)))
    changes.push(
      wider === undefined
        ? `scope requirement anyOf [${group.join(', ')}] removed`
        : `anyOf [${group.join(', ')}] widened to [${wider.join(', ')}]`,
    )
  }
  if (base.callers !== null) {
    if (next.callers === null) changes.push('caller restriction removed (any client may call)')
    else {
      const added = next.callers.filter((c) => !base.callers!.includes(c))
      if (added.length > 0) changes.push(`caller ${quoted(added)} added`)
    }
  }
  for (const [claim, rule] of Object.entries(base.claims)) {
    const now = next.claims[claim]
    if (now === undefined) changes.push(`claim matcher '${claim}' removed`)
    else if (now !== rule && !narrowerOneOf(rule, now)) {
      changes.push(`claim matcher '${claim}' changed from ${rule} to ${now}`)
    }
  }
  for (const check of base.checks) {
    if (!next.checks.includes(check)) changes.push(`check '${check}' removed`)
  }
  if (base.acr !== null) {
    if (next.acr === null) changes.push('acr (step-up) requirement removed')
    else {
      const added = next.acr.filter((a) => !base.acr!.includes(a))
      if (added.length > 0) changes.push(`acr value ${quoted(added)} accepted`)
    }
  }
  if (base.maxAuthAge !== null && base.maxAuthAge !== undefined) {
    // Seconds on both sides (a baseline holds what the register wrote).
    const before = seconds(base.maxAuthAge)
    const after = next.maxAuthAge === null ? Infinity : seconds(next.maxAuthAge)
    if (after > before) {
      changes.push(
        next.maxAuthAge === null
          ? 'maxAuthAge (step-up) requirement removed'
          : `maxAuthAge raised from ${before}s to ${after}s`,
      )
    }
  }
  if (!base.reportOnly && next.reportOnly) {
    changes.push('report-only switched on (denials no longer enforced)')
  }
  return changes
}

// `in ["a","b"]` narrowed to `in ["a"]` is a tightening.
function narrowerOneOf(before: string, after: string): boolean {
  if (!before.startsWith('in ') || !after.startsWith('in ')) return false
  try {
    const was = JSON.parse(before.slice(3)) as unknown[]
    const now = JSON.parse(after.slice(3)) as unknown[]
    return now.every((v) => was.includes(v))
  } catch {
    return false
  }
}

function seconds(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : Infinity
}

function millis(value: unknown): number {
  const parsed = durationIn(value, 'ms', { min: 0 })
  return typeof parsed === 'number' ? parsed : Infinity
}

/** Audiences per field and per class: `*` for any caller, else the scopes that see it. */
function audiences(exposure: RegisteredRoute['exposure']): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>()
  const add = (key: string, audience: string): void => {
    const set = map.get(key) ?? new Set<string>()
    set.add(audience)
    map.set(key, set)
  }
  for (const group of exposure.groups) {
    const audience = group.scope ?? ANY
    for (const field of group.fields) {
      add(`field\u0000${group.status}\u0000${field.path}`, audience)
      if (field.class !== null) add(`class\u0000${group.status}\u0000${field.class}`, audience)
    }
  }
  return map
}

function wider(before: ReadonlySet<string>, after: ReadonlySet<string>): string[] {
  if (before.has(ANY)) return []
  if (after.has(ANY)) return ['any caller']
  return [...after].filter((a) => !before.has(a)).map((a) => `holders of '${a}'`)
}

function statusText(status: string): string {
  return status === 'success' ? 'success responses' : `${status} responses`
}

function exposureChanges(
  base: RegisteredRoute['exposure'],
  next: RegisteredRoute['exposure'],
): string[] {
  if (base.kind !== 'allowlist') return []
  if (next.kind !== 'allowlist') {
    return [
      next.kind === 'passthrough'
        ? `response allowlist replaced by passthrough ('${next.reason}'): every field can leave`
        : 'response allowlist removed: every field can leave',
    ]
  }
  const changes: string[] = []
  const before = audiences(base)
  const after = audiences(next)
  for (const [key, audience] of after) {
    const [kind, status, name] = key.split('\u0000') as [string, string, string]
    const was = before.get(key)
    if (kind === 'field') {
      if (was === undefined) {
        const who = audience.has(ANY) ? '' : ` for ${quoted(audience)}`
        changes.push(`allowlist field '${name}' added to ${statusText(status)}${who}`)
        continue
      }
      const more = wider(was, audience)
      if (more.length > 0) {
        changes.push(`field '${name}' now reaches ${more.join(', ')} in ${statusText(status)}`)
      }
    } else {
      const more = was === undefined ? [...audience] : wider(was, audience)
      if (more.length > 0) {
        const who =
          was === undefined
            ? audience.has(ANY)
              ? 'any caller'
              : quoted(audience)
            : more.join(', ')
        changes.push(`class '${name}' now reachable by ${who} in ${statusText(status)}`)
      }
    }
  }
  changes.push(...capChanges(base.maxItems, next.maxItems))
  return changes
}

function capChanges(base: MaxItemsExposure | null, next: MaxItemsExposure | null): string[] {
  if (base === null) return []
  if (next === null) return ['maxItems removed']
  const changes: string[] = []
  const compare = (
    was: { default: number | null; paths: Readonly<Record<string, number>> },
    now: { default: number | null; paths: Readonly<Record<string, number>> } | undefined,
    nowFallback: { default: number | null; paths: Readonly<Record<string, number>> },
    who: string,
  ): void => {
    const capOf = (
      caps: { default: number | null; paths: Readonly<Record<string, number>> },
      path: string | null,
    ) => (path === null ? caps.default : (caps.paths[path] ?? caps.default))
    const paths = [null, ...Object.keys(was.paths)]
    for (const path of paths) {
      const before = capOf(was, path)
      if (before === null) continue
      const after = capOf(now ?? nowFallback, path) ?? Infinity
      if (after > before) {
        changes.push(
          `maxItems${path === null ? '' : ` of '${path}'`}${who} raised from ${before} to ${after === Infinity ? 'no cap' : after}`,
        )
      }
    }
  }
  compare(base, next, next, '')
  for (const [scope, caps] of Object.entries(base.byScope)) {
    compare(caps, next.byScope[scope], next, ` for '${scope}'`)
  }
  for (const [scope, caps] of Object.entries(next.byScope)) {
    if (Object.hasOwn(base.byScope, scope)) continue
    compare(base, caps, next, ` for '${scope}' (new scope raise)`)
  }
  return changes
}

function perMs(max: number, window: number): number {
  return window <= 0 ? Infinity : max / window
}

function limitChanges(base: RouteLimits, next: RouteLimits): string[] {
  const changes: string[] = []
  const b = base.rateLimit
  const n = next.rateLimit
  if (b !== null && b.kind === 'limit') {
    if (n === null) changes.push('rate limit removed')
    else if (n.kind === 'exempt') changes.push(`rate limit removed (exempt: '${n.reason}')`)
    else {
      const peak = (l: typeof b) => Math.max(l.max, ...l.overrides.map((o) => o.max))
      if (perMs(peak(n), n.timeWindow) > perMs(peak(b), b.timeWindow)) {
        changes.push(
          `rate limit raised from ${peak(b)} per ${b.timeWindow} ms to ${peak(n)} per ${n.timeWindow} ms`,
        )
      }
    }
  }
  changes.push(...boundChanges('budget', base.budget, next.budget, ['max']))
  changes.push(...boundChanges('enumeration', base.enumeration, next.enumeration, ['maxDistinct']))
  return changes
}

type Plain = Readonly<Record<string, unknown>>

// Budgets and enumeration limits, read defensively: numbers under `max` (or `maxDistinct`)
// and `byScope` may not rise for the same time window, the limit may not go.
function boundChanges(name: string, base: unknown, next: unknown, fields: string[]): string[] {
  if (typeof base !== 'object' || base === null) return []
  if (typeof next !== 'object' || next === null) return [`${name} removed`]
  const was = base as Plain
  const now = next as Plain
  const changes: string[] = []
  const window = (v: Plain) => millis(v.timeWindow ?? 1)
  const rate = (v: Plain, n: unknown) =>
    typeof n === 'number' ? n / Math.max(window(v), 1e-9) : Infinity
  for (const field of fields) {
    if (typeof was[field] !== 'number') continue
    if (rate(now, now[field]) > rate(was, was[field])) {
      changes.push(
        `${name} ${field} raised from ${String(was[field])} to ${JSON.stringify(now[field] ?? 'none')}`,
      )
    }
  }
  const scopes = (v: Plain) =>
    typeof v.byScope === 'object' && v.byScope !== null ? (v.byScope as Plain) : {}
  for (const [scope, value] of Object.entries(scopes(now))) {
    const before = scopes(was)[scope] ?? was.max
    if (
      typeof value === 'number' &&
      typeof before === 'number' &&
      rate(now, value) > rate(was, before)
    ) {
      changes.push(`${name} for '${scope}' raised from ${before} to ${value}`)
    }
  }
  if (was.overdraw === 'refuse' && now.overdraw === 'serve') {
    changes.push(`${name} overdraw switched from 'refuse' to 'serve'`)
  }
  return changes
}

/**
 * The weakenings of `next` against a `baseline` register document: per route, a scope removed
 * or turned from allOf into anyOf, the route made public, a caller added, a claim matcher
 * removed, an allowlist field added or a field (or class) reaching a wider audience, a rate
 * limit, budget or `maxItems` raised, report-only switched on; and routes the baseline does not
 * have. Tightenings (and removed routes) are not changes; an empty list passes the gate.
 *
 * @example
 * ```ts
 * const changes = compareRegisters(baseline, registerDocument(app.portcullis.routes()))
 * for (const { route, change } of changes) console.error(`${route}: ${change}`)
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/register.md
 */
export function compareRegisters(
  baseline: RegisterDocument,
  next: RegisterDocument,
): PolicyChange[] {
  const changes: PolicyChange[] = []
  for (const [route, now] of Object.entries(next.routes)) {
    const was = baseline.routes[route]
    if (was === undefined) {
      changes.push({ route, change: 'new route, not in the baseline' })
      continue
    }
    for (const change of [
      ...accessChanges(was.access, now.access),
      ...exposureChanges(was.exposure, now.exposure),
      ...limitChanges(was.limits, now.limits),
    ]) {
      changes.push({ route, change })
    }
  }
  return changes
}

/** Whether a parsed JSON value is a register document this version can compare. */
export function isRegisterDocument(value: unknown): value is RegisterDocument {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { version?: unknown }).version === REGISTER_VERSION &&
    typeof (value as { routes?: unknown }).routes === 'object' &&
    (value as { routes?: unknown }).routes !== null
  )
}
