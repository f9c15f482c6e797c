import { RateLimitError, type Principal } from '@portcullis/core'
import {
  emitAudit,
  refuse,
  reportDenial,
  SPANS,
  type Answer,
  type DenialWatch,
  type DecisionContext,
  type Meter,
  type Pending,
  type RequestView,
  type Step,
} from '@portcullis/core/internal'
import {
  keyFailure,
  storeAnswered,
  storeFailure,
  storeUnavailable,
  type LimiterLog,
  type StoreHealth,
} from '../limiter/index.js'
import { keyOf, keyPerPrincipal, type KeyOf } from '../limiter/request-keys.js'
import type { RateLimitKey } from '../options/rate-limit-options.js'
import type { HeaderNames } from '../options/index.js'
import { countBytes, countItems } from './count-egress.js'
import { hashTag, heldValue, type Balance, type EgressStore, type Maybe } from './egress-store.js'
import type { BudgetSpec, EgressPlan, EnumerationSpec } from './plan-egress.js'

/** What the egress steps of one app share. */
export interface EgressContext {
  readonly store: EgressStore
  readonly decision: DecisionContext
  readonly headers: HeaderNames | null
  readonly onStoreError: 'fail-closed' | 'fail-open'
  /** Whether the store answered last time: outages are logged once. */
  readonly health: StoreHealth
  readonly log: LimiterLog
}

/** The route egress limits are built for. */
export interface EgressRoute {
  /** The route template, for audit events. */
  readonly route: string
  /** Where the route's own balances and sets live: its template (with its constraints). */
  readonly countsAt: string
  readonly reportOnly: boolean
}

/** A route's egress steps: run before its handler, and the meter of its success bodies. */
export interface RouteEgress {
  readonly steps: readonly Step[]
  readonly meter: Meter | null
}

function isPromise<T>(value: Maybe<T>): value is Promise<T> {
  return value instanceof Promise
}

/**
 * The 429 of a spent budget, set, or lockout, with `Retry-After`, and the RateLimit headers of
 * a budget (`max`) when the app sends them (`headers`).
 */
function tooMany(
  code: 'PCL_BUDGET_EXHAUSTED' | 'PCL_ENUMERATION' | 'PCL_LOCKED_OUT',
  ttl: number,
  headers: HeaderNames | null = null,
  max = 0,
): RateLimitError {
  const seconds = String(Math.max(1, Math.ceil(ttl / 1000)))
  const sent: Record<string, string> = { 'Retry-After': seconds }
  if (headers !== null) {
    sent[headers.limit] = String(max)
    sent[headers.remaining] = '0'
    sent[headers.reset] = seconds
  }
  return new RateLimitError(code, { headers: sent })
}

/**
 * Runs one store operation and answers through `decide`: a store that fails (or is late)
 * answers per `onStoreError` (503, or served with an allow audit event), once logged per outage.
 * A store that answers at once (memory) costs no closure beyond the caller's.
 */
function through<T>(
  context: EgressContext,
  view: RequestView,
  route: string | null,
  operation: () => Maybe<T>,
  decide: (result: T) => Answer,
): Pending {
  let result: Maybe<T>
  try {
    result = operation()
  } catch (err) {
    return storeUnavailable(view, context.decision, context, route, err)
  }
  if (!isPromise(result)) {
    storeAnswered(context.health, view.log)
    return decide(result)
  }
  return result.then(
    (value) => {
      storeAnswered(context.health, view.log)
      return decide(value)
    },
    (err: unknown) => storeUnavailable(view, context.decision, context, route, err),
  )
}

/**
 * The counting key of a request, hash-tagged, between `prefix` and `suffix`. The built-in keys
 * read the verified principal alone, and a cached token hands every request the same frozen
 * principal: for those the key is built once per principal. A key function sees the request, so
 * its key is built every time.
 */
function countingKey(
  key: RateLimitKey,
  prefix: string,
  suffix: string,
): (view: RequestView) => string {
  const keyOfRequest: KeyOf = keyOf(key)
  return keyPerPrincipal(key, (view) => `${prefix}${hashTag(keyOfRequest(view))}${suffix}`)
}

function maxFor(budget: BudgetSpec): (principal: Principal | null) => number {
  const { max, byScope } = budget
  return function scopedMax(principal) {
    if (principal === null) return max
    let best = max
    for (const [scope, scoped] of byScope) {
      if (scoped > best && principal.scopes.has(scope)) best = scoped
    }
    return best
  }
}

function createBudget(
  budget: BudgetSpec,
  at: EgressRoute,
  context: EgressContext,
): { check: Step; meter: Meter } {
  const { decision, headers, store } = context
  const { route, reportOnly } = at
  const namespace = budget.name === null ? `r\0${at.countsAt}` : `n\0${budget.name}`
  const keyOfView = countingKey(budget.key, 'b:', namespace)
  const maxOf = maxFor(budget)
  const refuseOverdraw = budget.overdraw === 'refuse'
  const count = budget.unit === 'items' ? (value: unknown) => countItems(value, budget.path) : null

  function exhausted(view: RequestView, balance: Balance, max: number): Answer {
    const over = tooMany('PCL_BUDGET_EXHAUSTED', balance.ttl, headers, max)
    if (reportOnly) {
      reportDenial(view, decision, over, route)
      return null
    }
    return refuse(view, decision, over, route)
  }

  function keyFor(view: RequestView): string | Answer {
    try {
      return keyOfView(view)
    } catch (err) {
      return refuse(view, decision, keyFailure(view.log, err), route)
    }
  }

  const check: Step = function portcullisBudget(view) {
    const key = keyFor(view)
    if (typeof key !== 'string') return key
    const max = maxOf(view.principal)
    return through(
      context,
      view,
      route,
      () => store.balance(key),
      (balance) => (balance.used < max ? null : exhausted(view, balance, max)),
    )
  }

  const meter: Meter = function portcullisBudgetCharge(view, status, sent) {
    // Success bodies only; a HEAD response carries none, so nothing leaves.
    if (status < 200 || status >= 300 || view.method === 'HEAD') return null
    const amount = count === null ? countBytes(sent) : count(sent.value)
    if (amount <= 0) return null
    const key = keyFor(view)
    if (typeof key !== 'string') return key
    const max = maxOf(view.principal)
    return through(
      context,
      view,
      route,
      () => store.charge(key, amount, max, budget.timeWindow, refuseOverdraw),
      (balance) => (balance.refused ? exhausted(view, balance, max) : null),
    )
  }
  return { check, meter }
}

// One value of a parameter as the enumeration counts it. A value an object-producing query
// parser made (`?id[a]=1` with Express's `extended` parser) counts as its JSON: any value the
// handler can receive is counted, so none walks past the limit.
function counted(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : heldValue(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (typeof value !== 'object' || value === null) return null
  let json: string
  try {
    json = JSON.stringify(value)
  } catch {
    // A value JSON cannot hold (a cycle): one value for all of them.
    json = '\0unreadable'
  }
  return heldValue(json)
}

/** The values of a request's parameter: its value, or each distinct one of a repeated value. */
function valuesOf(source: unknown, name: string): string[] {
  if (typeof source !== 'object' || source === null) return []
  const value = (source as Record<string, unknown>)[name]
  if (!Array.isArray(value)) {
    const one = counted(value)
    return one === null ? [] : [one]
  }
  const values = new Set<string>()
  for (const item of value as unknown[]) {
    const one = counted(item)
    if (one !== null) values.add(one)
  }
  return [...values]
}

function createEnumeration(
  enumeration: EnumerationSpec,
  at: EgressRoute,
  context: EgressContext,
): Step {
  const { decision, store } = context
  const { route, reportOnly } = at
  const namespace = `r\0${at.countsAt}\0${enumeration.source}\0${enumeration.name}`
  const keyOfView = countingKey(enumeration.key, 'e:', namespace)
  const { maxDistinct, timeWindow } = enumeration
  const read =
    enumeration.source === 'param'
      ? (view: RequestView) => valuesOf(view.native.params, enumeration.name)
      : (view: RequestView) => valuesOf(view.native.query, enumeration.name)

  return function portcullisEnumeration(view) {
    const values = read(view)
    if (values.length === 0) return null
    let key: string
    try {
      key = keyOfView(view)
    } catch (err) {
      return refuse(view, decision, keyFailure(view.log, err), route)
    }
    return through(
      context,
      view,
      route,
      () => store.touch(key, values, maxDistinct, timeWindow),
      (distinct) => {
        if (distinct.allowed) return null
        const over = tooMany('PCL_ENUMERATION', distinct.ttl)
        if (reportOnly) {
          reportDenial(view, decision, over, route)
          return null
        }
        return refuse(view, decision, over, route)
      },
    )
  }
}

/**
 * Builds a route's egress steps once, the same for every adapter: the enumeration limit and the
 * budget's check run before the handler (after the rate limit), the budget's meter on every
 * projected success body.
 */
export function createRouteEgress(
  plan: EgressPlan,
  at: EgressRoute,
  context: EgressContext,
): RouteEgress {
  const steps: Step[] = []
  let meter: Meter | null = null
  const telemetry = context.decision.telemetry
  if (plan.enumeration !== null) {
    const step = createEnumeration(plan.enumeration, at, context)
    steps.push(telemetry?.traceStep(SPANS.enumeration, step) ?? step)
  }
  if (plan.budget !== null) {
    const budget = createBudget(plan.budget, at, context)
    steps.push(telemetry?.traceStep(SPANS.budget, budget.check) ?? budget.check)
    meter = budget.meter
  }
  return { steps, meter }
}

/** `rateLimit.lockout`, resolved: milliseconds. */
export interface LockoutSpec {
  readonly max: number
  readonly timeWindow: number
  readonly coolDown: number
}

/**
 * The denial-burst lockout of an app: `forRoute` gives each guarded route its watch (report-only
 * routes report the refusal and serve). Denials are counted per verified principal; requests
 * without a principal are never locked out (the pre-auth limiter throttles those).
 */
export function createLockout(
  spec: LockoutSpec,
  context: EgressContext,
): (reportOnly: boolean) => DenialWatch {
  const { store, decision } = context
  const keyFor = countingKey('principal', 'l:', '')

  function denied(view: RequestView): void {
    if (view.principal === null) return
    let locked: Maybe<number>
    const started = (ms: number): void => {
      if (ms <= 0) return
      emitAudit(view, decision, 'deny', 'PCL_LOCKED_OUT', { route: view.route, status: 429 })
    }
    const failed = (err: unknown): void => {
      // The denial itself was answered; only its count is lost.
      storeFailure(context.health, context.onStoreError, view.log, err)
    }
    try {
      locked = store.deny(keyFor(view), spec.max, spec.timeWindow, spec.coolDown)
    } catch (err) {
      failed(err)
      return
    }
    if (isPromise(locked)) locked.then(started, failed)
    else started(locked)
  }

  return function forRoute(reportOnly) {
    const check: Step = function portcullisLockout(view) {
      if (view.principal === null) return null
      const key = keyFor(view)
      return through(
        context,
        view,
        view.route,
        () => store.lockedFor(key),
        (ms) => {
          if (ms <= 0) return null
          const locked = tooMany('PCL_LOCKED_OUT', ms)
          if (reportOnly) {
            reportDenial(view, decision, locked, view.route)
            return null
          }
          return refuse(view, decision, locked, view.route)
        },
      )
    }
    const traced = decision.telemetry?.traceStep(SPANS.lockout, check) ?? check
    return Object.freeze({ check: traced, denied })
  }
}
