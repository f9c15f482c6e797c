import type { GuardRequest, PortcullisError, Principal } from '@portcullis/core'
import { buildPrincipal } from '@portcullis/tokens/internal'
import type { CompiledGuard } from './compile-guard.js'
import { decideGuard, type ReportOnlySettings } from './decide-guard.js'
import { buildEvaluator } from './evaluate-guard.js'
import type { NormalizedGuard } from './normalized-guard.js'
import { summarizeGuard } from './summarize-guard.js'

/** One rule of a guard and what it said for the principal. */
export interface ExplainStep {
  /** `scope`, `anyOf`, `callers`, `claim`, `acr`, `maxAuthAge`, `check`, `token` or `public`. */
  readonly rule: string
  /** The rule as the inventory writes it (`scopes: videos:read`, `claims: tenant = :id`). */
  readonly requirement: string
  readonly outcome: 'pass' | 'fail'
  /** The code a failing rule answers with (`PCL_INSUFFICIENT_SCOPE`). */
  readonly code: string | null
}

/** What a route's guard decides for a principal, and why, rule by rule. */
export interface Explanation {
  /** `allow`, `deny`, or `report` (a report-only route: the denial is audited, the request served). */
  readonly decision: 'allow' | 'deny' | 'report'
  /** The decision's status (200 when served) and code (`PCL_ALLOWED`, `PCL_PUBLIC`, a denial). */
  readonly status: number
  readonly code: string
  /** Every rule of the guard, in the order the guard evaluates them. */
  readonly steps: readonly ExplainStep[]
}

const NONE: NormalizedGuard = {
  public: null,
  authenticated: true,
  allOf: [],
  anyOf: [],
  callers: null,
  claims: {},
  acr: null,
  maxAuthAge: null,
  checks: [],
  reportOnly: undefined,
  rateLimit: undefined,
  budget: undefined,
  enumeration: undefined,
  response: undefined,
  body: undefined,
}

/** One rule alone, as a guard of its own: its verdict comes from the real evaluator. */
function ruleOf(guard: NormalizedGuard): { rule: string; guard: NormalizedGuard }[] {
  const rules: { rule: string; guard: NormalizedGuard }[] = []
  for (const scope of guard.allOf) rules.push({ rule: 'scope', guard: { ...NONE, allOf: [scope] } })
  for (const group of guard.anyOf) rules.push({ rule: 'anyOf', guard: { ...NONE, anyOf: [group] } })
  if (guard.callers !== null) {
    rules.push({ rule: 'callers', guard: { ...NONE, callers: guard.callers } })
  }
  for (const [claim, matcher] of Object.entries(guard.claims)) {
    rules.push({ rule: 'claim', guard: { ...NONE, claims: { [claim]: matcher } } })
  }
  if (guard.acr !== null) rules.push({ rule: 'acr', guard: { ...NONE, acr: guard.acr } })
  if (guard.maxAuthAge !== null) {
    rules.push({ rule: 'maxAuthAge', guard: { ...NONE, maxAuthAge: guard.maxAuthAge } })
  }
  for (const check of guard.checks)
    rules.push({ rule: 'check', guard: { ...NONE, checks: [check] } })
  return rules
}

function codeOf(error: PortcullisError | null): string | null {
  return error === null ? null : error.code
}

/**
 * Explains what a compiled guard decides for a principal (or none) and a request: the verdict
 * is `decideGuard`'s, the same call the adapters make; each rule is then evaluated alone by the
 * same compiled evaluator, so the steps say which rules pass and which fail. `check` functions
 * run (they are part of the decision). Rate limits, budgets and the response allowlist are not
 * evaluated: they count or shape served requests.
 *
 * @example
 * ```ts
 * const why = await explainGuard(compiled, principal, { method: 'GET', url: '/v1/videos/7',
 *   params: { id: '7' }, query: {}, headers: {} }, { policy: false, tokens: false })
 * why.decision // 'deny'
 * why.steps.find((s) => s.outcome === 'fail')?.requirement // 'scopes: videos:read'
 * ```
 */
export async function explainGuard(
  compiled: CompiledGuard,
  principal: Principal | null,
  request: GuardRequest,
  reportOnly: ReportOnlySettings,
): Promise<Explanation> {
  const outcome = await decideGuard(compiled, principal, request, reportOnly)
  const steps: ExplainStep[] = []
  const guard = compiled.guard
  if (guard.public !== null) {
    steps.push({
      rule: 'public',
      requirement: `public: ${guard.public}`,
      outcome: 'pass',
      code: null,
    })
  } else {
    steps.push({
      rule: 'token',
      requirement: 'a verified token',
      outcome: principal === null ? 'fail' : 'pass',
      code: principal === null ? 'PCL_TOKEN_MISSING' : null,
    })
    if (principal !== null) {
      for (const { rule, guard: alone } of ruleOf(guard)) {
        let error: PortcullisError | null
        try {
          error = await buildEvaluator(alone)(principal, request)
        } catch {
          error = { code: 'PCL_CHECK_DENIED' } as PortcullisError
        }
        steps.push({
          rule,
          requirement: summarizeGuard(alone, false),
          outcome: error === null ? 'pass' : 'fail',
          code: codeOf(error),
        })
      }
    }
  }
  if (outcome.kind === 'allow') {
    return { decision: 'allow', status: 200, code: outcome.reason, steps }
  }
  return {
    decision: outcome.kind,
    status: outcome.kind === 'report' ? 200 : outcome.error.status,
    code: outcome.error.code,
    steps,
  }
}

/**
 * The route parameters of `url` under a route template (`/v1/videos/:id` and `/v1/videos/7`
 * give `{ id: '7' }`), or `null` when it does not match. The template itself matches, each
 * parameter then standing for its own name (`:id`).
 */
export function matchTemplate(template: string, url: string): Record<string, string> | null {
  const path = url.split('?')[0] ?? ''
  if (template === path) {
    return Object.fromEntries(
      [...template.matchAll(/:([A-Za-z0-9_]+)/gu)].map((m) => [m[1]!, `:${m[1]!}`]),
    )
  }
  const want = template.split('/')
  const have = path.split('/')
  const params: Record<string, string> = {}
  for (let i = 0; i < want.length; i++) {
    const segment = want[i]!
    if (segment === '*') {
      params['*'] = have.slice(i).join('/')
      return params
    }
    const value = have[i]
    if (value === undefined) return null
    const param = /^:([A-Za-z0-9_]+)(?:\((.*)\))?$/u.exec(segment)
    if (param === null) {
      if (segment !== value) return null
      continue
    }
    if (value === '') return null
    if (param[2] !== undefined && !new RegExp(`^(?:${param[2]})$`, 'u').test(value)) return null
    params[param[1]!] = decodeURIComponent(value)
  }
  return have.length === want.length ? params : null
}

/**
 * A principal from the claims of a token, as the verifier would build it from a verified one
 * (`scope` or `scp`, `client_id` or `azp`); `iss` and `sub` default to placeholders. `null`
 * claims: no token.
 */
export function principalFromClaims(
  claims: Readonly<Record<string, unknown>> | null,
): Principal | null {
  if (claims === null) return null
  const copy: Record<string, unknown> = structuredClone({
    iss: 'portcullis-explain',
    sub: 'explain',
    ...claims,
  })
  return buildPrincipal(copy, copy.scope === undefined && copy.scp !== undefined ? 'scp' : 'scope')
}
