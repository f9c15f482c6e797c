import { isPortcullisConfigError, PortcullisConfigError } from '@portcullis/core'
import type { Meter, RouteSteps } from '@portcullis/core/internal'
import { appendRouteHook, registerOnce } from '@portcullis/tokens/internal'
import type { FastifyInstance, onErrorHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import {
  compileGuard,
  explainGuard,
  matchTemplate,
  principalFromClaims,
  mergeGuards,
  normalizeGuard,
  parseGuard,
  routeParams,
  startupError,
  type CompiledGuard,
  type NormalizedGuard,
} from '../guard/index.js'
import {
  compareEntries,
  inventoryEntries,
  parseRouteTree,
  type InventoryEntry,
  type PrintedRoute,
  type PortcullisApi,
} from '../inventory/index.js'
import {
  createRouteDecision,
  decideUnknownRoute,
  refuseUnguarded,
} from '../runtime/route-decision.js'
import { answerFrameworkErrors } from './framework-errors.js'
import {
  kRouteState,
  type AnnotatedField,
  type AnnotationDetail,
  type RouteState,
} from './route-state.js'
import {
  resolvePolicyOptions,
  type PolicyPluginOptions,
  type ResolvedPolicyOptions,
} from './options.js'
import { ROUTE_GUARD_HOOK, kRouteSteps, PORTCULLIS_HOOKS, routeGuardHook } from './route-hooks.js'

interface RouteRecord {
  readonly methods: readonly string[]
  readonly url: string
  readonly constraints: Readonly<Record<string, unknown>> | null
  readonly label: string
  readonly declared: boolean
  readonly compiled: CompiledGuard | null
  readonly errors: PortcullisConfigError[]
  readonly annotations: Partial<Record<AnnotatedField, string>>
  readonly details: { -readonly [F in AnnotatedField]?: AnnotationDetail[F] }
}

// The plugin that owns each guard key outside the policy's own, and what to add when it is
// missing: with @portcullis/fastify, which registers the rate limiter only with its `rateLimit`
// option, that option; with the plugins registered one by one, the plugin.
const EXTENSIONS = [
  {
    key: 'rateLimit',
    plugin: '@portcullis/rate-limit',
    fix: {
      fastify:
        "add the rateLimit option to the options of @portcullis/fastify (e.g. rateLimit: { max: 600, timeWindow: '1 minute' }: the default limit of every route, which guard.rateLimit replaces on this one)",
      alone:
        'register @portcullis/rate-limit (rateLimitPlugin) after @portcullis/policy, before declaring routes',
    },
  },
  ...(['budget', 'enumeration'] as const).map((key) => ({
    key,
    plugin: '@portcullis/rate-limit',
    fix: {
      fastify: `add the rateLimit option to the options of @portcullis/fastify (guard.${key} is counted in its store, in memory or Redis)`,
      alone:
        'register @portcullis/rate-limit (rateLimitPlugin) after @portcullis/policy, before declaring routes',
    },
  })),
  {
    key: 'response',
    plugin: '@portcullis/allowlist',
    fix: {
      fastify: '@portcullis/fastify registers it: register @portcullis/fastify in this app',
      alone:
        'register @portcullis/allowlist (allowlistPlugin) after @portcullis/policy, before declaring routes',
    },
  },
  {
    key: 'body',
    plugin: '@portcullis/allowlist',
    fix: {
      fastify: '@portcullis/fastify registers it: register @portcullis/fastify in this app',
      alone:
        'register @portcullis/allowlist (allowlistPlugin) after @portcullis/policy, before declaring routes',
    },
  },
] as const

function routeLabel(methods: readonly string[], url: string, constraints: unknown): string {
  const suffix =
    constraints !== null && typeof constraints === 'object' && Object.keys(constraints).length > 0
      ? ` ${JSON.stringify(constraints)}`
      : ''
  return `${methods.join(',')} ${url}${suffix}`
}

/** Where an encapsulated context keeps the guard defaults of its prefix. */
const kGuardDefaults = Symbol.for('portcullis.guardDefaults')

interface GuardDefaults {
  readonly guard: NormalizedGuard
  readonly label: string
}

type WithDefaults = FastifyInstance & { [kGuardDefaults]?: GuardDefaults }

type Compilation =
  { compiled: CompiledGuard; error: null } | { compiled: null; error: PortcullisConfigError }

/**
 * Marks the routes this plugin compiled, where the startup check can read it (`printRoutes`
 * prints hook names): an `onError` hook, which costs nothing on a request that does not fail,
 * and does nothing on one that does.
 */
const ROUTE_SEEN_HOOK = 'portcullisRouteSeen'
const routeSeenHook: onErrorHookHandler = function portcullisRouteSeen(
  _request,
  _reply,
  _error,
  done,
) {
  done()
}

function portcullisPolicy(
  fastify: FastifyInstance,
  options: PolicyPluginOptions,
  next: (err?: Error) => void,
): void {
  const twice = registerOnce(fastify, '@portcullis/policy')
  if (twice !== null) {
    next(twice)
    return
  }
  let resolved: ResolvedPolicyOptions
  try {
    resolved = resolvePolicyOptions(options)
  } catch (err) {
    next(err as Error)
    return
  }
  const context = {
    realm: resolved.realm,
    audit: resolved.audit,
    callbackTimeout: resolved.callbackTimeout,
    telemetry: resolved.telemetry,
    resourceMetadata: resolved.resourceMetadataUrl,
  }
  answerFrameworkErrors(fastify, context)
  const records: RouteRecord[] = []
  const unseen: InventoryEntry[] = []
  // The HEAD route Fastify adds for a GET shares the GET route's guard object: compile it once
  // per guard and URL, so an invalid guard is reported once, under the route that declared it.
  const compilations = new WeakMap<object, Map<string, Compilation>>()
  function compile(
    guard: unknown,
    url: string,
    label: string,
    defaults: GuardDefaults | undefined,
  ): Compilation {
    // The label without its methods: the URL and constraints, shared by a GET and its HEAD.
    const key = label.slice(label.indexOf(' ') + 1)
    const cache = typeof guard === 'object' && guard !== null ? compilations.get(guard) : undefined
    const hit = cache?.get(key)
    if (hit !== undefined) return hit
    let result: Compilation
    try {
      const compiled = compileGuard(guard, {
        route: label,
        params: routeParams(url),
        policies: resolved.policies,
        reportOnly: resolved.reportOnly.policy,
        ...(defaults === undefined ? {} : { defaults }),
        ...(resolved.knownScopes === undefined ? {} : { knownScopes: resolved.knownScopes }),
      })
      for (const warning of compiled.warnings) {
        fastify.log.warn({ route: label, field: warning.field }, `portcullis: ${warning.message}`)
      }
      result = { compiled, error: null }
    } catch (err) {
      if (!isPortcullisConfigError(err)) throw err
      result = { compiled: null, error: err }
    }
    if (typeof guard === 'object' && guard !== null) {
      const map = compilations.get(guard) ?? new Map<string, Compilation>()
      map.set(key, result)
      compilations.set(guard, map)
    }
    return result
  }

  fastify.addHook('onRoute', function portcullisCompileRoute(routeOptions) {
    const methods = Array.isArray(routeOptions.method)
      ? routeOptions.method.map(String)
      : [String(routeOptions.method)]
    const url = routeOptions.url ?? routeOptions.path ?? ''
    const constraints = (routeOptions.constraints as Record<string, unknown> | undefined) ?? null
    const label = routeLabel(methods, url, constraints)
    const config = routeOptions.config as { guard?: unknown } | undefined
    const declared = config !== undefined && config !== null && config.guard !== undefined
    // Routes of a prefix with guard defaults inherit them, with or without a guard of their own.
    const defaults = (this as WithDefaults)[kGuardDefaults]
    const { compiled, error } =
      declared || defaults !== undefined
        ? compile(declared ? config.guard : {}, url, label, defaults)
        : { compiled: null, error: null }
    const record: RouteRecord = {
      methods,
      url,
      constraints,
      label,
      declared: declared || defaults !== undefined,
      compiled,
      errors: error === null ? [] : [error],
      annotations: {},
      details: {},
    }
    records.push(record)
    const steps: RouteSteps = {
      decide:
        compiled === null
          ? refuseUnguarded(url, context)
          : createRouteDecision(compiled, url, context, resolved.reportOnly),
      after: [],
    }
    const meters: Meter[] = []
    let taken = false
    const state: RouteState = {
      compiled,
      knownScopes: resolved.knownScopes,
      url,
      methods,
      label,
      annotate(field, summary, detail) {
        record.annotations[field] = summary
        if (detail !== undefined) (record.details as Record<string, unknown>)[field] = detail
      },
      reportError(err) {
        record.errors.push(err)
      },
      addStep(step) {
        steps.after.push(step)
      },
      addMeter(meter) {
        if (!taken) meters.push(meter)
        else {
          record.errors.push(
            new PortcullisConfigError(
              'PCL_INVALID_OPTIONS',
              `${label}: its egress budget would never be charged: @portcullis/allowlist was registered before @portcullis/rate-limit; register rate-limit first (@portcullis/fastify does)`,
              { field: 'guard.budget' },
            ),
          )
        }
      },
      takeMeters() {
        taken = true
        return meters
      },
      watchDenials(watch) {
        steps.lockout = watch
      },
    }
    Object.defineProperty(routeOptions, kRouteState, { value: state, configurable: true })
    // A copy of the config with the route's steps: Fastify copies the config (own enumerable
    // keys, symbols included) into the route, where the guard's hook finds it per request.
    appendRouteHook(routeOptions, 'onError', routeSeenHook)
    routeOptions.config = {
      ...(routeOptions.config as object | undefined),
      [kRouteSteps]: steps,
    } as NonNullable<typeof routeOptions.config>
  })

  // One hook for every route, added now: it runs before the hooks the application adds after
  // Portcullis, and the startup check refuses application hooks added before it.
  fastify.addHook(
    'onRequest',
    routeGuardHook(
      resolved.unknownRoutes === 'unauthorized'
        ? decideUnknownRoute(context, resolved.reportOnly)
        : null,
      refuseUnguarded(null, context),
    ),
  )

  // `app.register(plugin, { prefix: '/admin', guard: {...} })`: guard defaults for every route
  // of that context and its children, which each route may tighten but not loosen.
  fastify.addHook('onRegister', function portcullisPrefixDefaults(instance, opts) {
    const guard = (opts as { guard?: unknown } | undefined)?.guard
    if (guard === undefined) return
    const target = instance as WithDefaults
    const label = `the guard defaults of prefix ${instance.prefix === '' ? '/' : instance.prefix}`
    const site = { route: `register(${instance.prefix === '' ? '/' : instance.prefix})` }
    const parsed = parseGuard(guard, site)
    if (parsed.public !== undefined) {
      throw new PortcullisConfigError(
        'PCL_INVALID_GUARD',
        `${site.route}: guard.public cannot be a prefix default: each public route states its own reason`,
        { route: site.route, field: 'guard.public' },
      )
    }
    let normalized = normalizeGuard(parsed)
    const inherited = target[kGuardDefaults]
    if (inherited !== undefined) {
      normalized = mergeGuards(inherited.guard, normalized, {
        route: site.route,
        base: inherited.label,
        prefix: 'guard',
      })
    }
    target[kGuardDefaults] = { guard: normalized, label }
  })

  const api: PortcullisApi = {
    routes() {
      const entries: InventoryEntry[] = []
      for (const record of records) {
        entries.push(
          ...inventoryEntries(record.methods, {
            url: record.url,
            constraints: record.constraints,
            compiled: record.compiled,
            rateLimit: record.annotations.rateLimit ?? null,
            response: record.annotations.response ?? null,
            body: record.annotations.body ?? null,
            budget: record.annotations.budget ?? null,
            enumeration: record.annotations.enumeration ?? null,
            exposure: record.details.response ?? null,
            limit: record.details.rateLimit ?? null,
            classify: resolved.classify,
          }),
        )
      }
      return Object.freeze([...entries, ...unseen].sort(compareEntries))
    },
    async explain(request) {
      const method = request.method.toUpperCase()
      let found: { record: RouteRecord; params: Record<string, string> } | undefined
      for (const record of records) {
        if (!record.methods.includes(method)) continue
        const params = matchTemplate(record.url, request.url)
        if (params === null) continue
        // The route declared with exactly this URL wins over one it merely matches.
        if (found === undefined || record.url === request.url) found = { record, params }
      }
      if (found === undefined) {
        throw new PortcullisConfigError(
          'PCL_INVALID_OPTIONS',
          `explain: no route matches ${method} ${request.url}`,
        )
      }
      const { record, params } = found
      const route = routeLabel([method], record.url, record.constraints)
      if (record.compiled === null) {
        return {
          route,
          params,
          decision: 'deny' as const,
          status: 403,
          code: 'PCL_ROUTE_NOT_GUARDED',
          steps: [],
        }
      }
      const explained = await explainGuard(
        record.compiled,
        principalFromClaims(request.claims),
        {
          method,
          url: request.url,
          params,
          query: { ...request.query },
          headers: { ...request.headers },
        },
        resolved.reportOnly,
      )
      return { route, params, ...explained }
    },
  }
  fastify.decorate('portcullis', api)

  fastify.addHook('onReady', function portcullisCheckRoutes(done) {
    try {
      const routes = printedRoutes(this)
      unseen.push(...routesNotSeen(routes))
      checkRoutes(this, records, unseen, resolved.unguardedRoutes, hooksBeforeGuard(routes))
      done()
    } catch (err) {
      done(err as Error)
    }
  })
  next()
}

/** Every route in Fastify's router, with its `onRequest` hooks in the order they run. */
function printedRoutes(fastify: FastifyInstance): PrintedRoute[] {
  const printed = fastify.printRoutes({
    commonPrefix: false,
    includeMeta: ['onRequest', 'onError'],
  })
  const { routes, unparsed } = parseRouteTree(printed)
  if (unparsed.length > 0) {
    throw new PortcullisConfigError(
      'PCL_UNGUARDED_ROUTE',
      `portcullis could not read the route table, so it cannot prove every route is guarded (unexpected lines: ${unparsed.slice(0, 3).join(' | ')})`,
    )
  }
  return routes
}

/**
 * The refusal of application `onRequest` hooks that run before the guard's (added before
 * Portcullis was registered): any of them could answer a request (a cache, a maintenance page)
 * before the guard decides on it. Hooks added after Portcullis run after the guard and are fine.
 */
function hooksBeforeGuard(routes: readonly PrintedRoute[]): PortcullisConfigError | undefined {
  const early = new Map<string, string[]>()
  for (const route of routes) {
    const at = route.onRequest.indexOf(ROUTE_GUARD_HOOK)
    if (at < 0) continue
    const before = route.onRequest.slice(0, at).filter((name) => !PORTCULLIS_HOOKS.has(name))
    if (before.length === 0) continue
    const hooks = [...new Set(before)].map((name) => `${name}()`).join(', ')
    early.set(hooks, [...(early.get(hooks) ?? []), `${route.methods.join(',')} ${route.url}`])
  }
  if (early.size === 0) return undefined
  return new PortcullisConfigError(
    'PCL_UNGUARDED_ROUTE',
    [
      'onRequest hooks run before the Portcullis guard, so they could answer a request the guard has not decided:',
      ...[...early].map(([hooks, on]) => `  - ${hooks} on ${on.join(', ')}`),
      'Register Portcullis (await app.register(...)) before the plugins and hooks that add them.',
    ].join('\n'),
    { routes: [...early.values()].flat() },
  )
}

/**
 * Routes in Fastify's router that never passed through our `onRoute` hook (declared before the
 * plugin was loaded, or in a context it does not reach). The guard's hook refuses them at run
 * time wherever it reaches them; startup lists them.
 */
function routesNotSeen(routes: readonly PrintedRoute[]): InventoryEntry[] {
  const entries: InventoryEntry[] = []
  for (const route of routes) {
    if (route.onError.includes(ROUTE_SEEN_HOOK) && route.onRequest.includes(ROUTE_GUARD_HOOK)) {
      continue
    }
    entries.push(
      ...inventoryEntries(route.methods, {
        url: route.url,
        constraints: route.constraints === '' ? null : parseConstraints(route.constraints),
        compiled: null,
        rateLimit: null,
        response: null,
        body: null,
      }),
    )
  }
  return entries
}

function parseConstraints(text: string): Readonly<Record<string, unknown>> | null {
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    return null
  }
}

/**
 * Every invalid guard of every route, once: the HEAD route Fastify adds for a GET shares its
 * guard, and an error the GET route reports is not reported again for it.
 */
function invalidGuards(
  fastify: FastifyInstance,
  records: readonly RouteRecord[],
): PortcullisConfigError[] {
  const withFastify = fastify.hasPlugin('@portcullis/fastify')
  const errors: PortcullisConfigError[] = []
  const seen = new Set<string>()
  for (const record of records) {
    const guard = record.compiled?.guard
    const found = [...record.errors]
    for (const { key, plugin, fix } of EXTENSIONS) {
      if (guard?.[key] !== undefined && !fastify.hasPlugin(plugin)) {
        found.push(
          new PortcullisConfigError(
            'PCL_INVALID_GUARD',
            `${record.label}: guard.${key} needs ${plugin}, which is not registered: ${withFastify ? fix.fastify : fix.alone}`,
            { route: record.label, field: `guard.${key}` },
          ),
        )
      }
    }
    // The HEAD route Fastify adds for a GET has its guard: one error stands for both.
    const where = record.label.replace(/^HEAD /u, 'GET ')
    for (const error of found) {
      const text =
        error.route === undefined ? error.message : error.message.replace(error.route, '')
      const key = `${where}\n${error.field ?? ''}\n${text}`
      if (seen.has(key)) continue
      seen.add(key)
      errors.push(error)
    }
  }
  return errors
}

function checkRoutes(
  fastify: FastifyInstance,
  records: readonly RouteRecord[],
  unseen: readonly InventoryEntry[],
  mode: 'fail' | 'deny',
  early: PortcullisConfigError | undefined,
): void {
  const undeclared = records
    .filter((r) => !r.declared)
    .flatMap((r) => r.methods.map((m) => routeLabel([m], r.url, r.constraints)))
  const notSeen = unseen.map((e) => routeLabel([e.method], e.url, e.constraints))
  let unguarded: PortcullisConfigError | undefined
  if (notSeen.length > 0 || (undeclared.length > 0 && mode === 'fail')) {
    const all = [...undeclared, ...notSeen]
    const lines = [
      `${all.length} route${all.length === 1 ? ' has' : 's have'} no guard (deny by default):`,
      ...undeclared.map((r) => `  - ${r}`),
      ...notSeen.map((r) => `  - ${r} (declared before Portcullis was registered)`),
      `Declare config.guard on each route ({ public: '<reason>' } for a route that needs no token).`,
    ]
    if (notSeen.length > 0) {
      lines.push(
        'Register Portcullis with `await app.register(...)` before declaring routes or registering plugins that declare them.',
      )
    }
    unguarded = new PortcullisConfigError('PCL_UNGUARDED_ROUTE', lines.join('\n'), {
      routes: all,
    })
  }
  // Every finding at once: fixing one must not be how the next is discovered.
  const failure = startupError(invalidGuards(fastify, records), [
    ...(early === undefined ? [] : [early]),
    ...(unguarded === undefined ? [] : [unguarded]),
  ])
  if (failure !== undefined) throw failure
  if (undeclared.length > 0) {
    fastify.log.warn(
      { routes: undeclared },
      'portcullis: routes without a guard are refused with 403 (unguardedRoutes: deny)',
    )
  }

  const needsToken = records.some((r) => r.compiled !== null && r.compiled.public === null)
  if (needsToken && !fastify.hasRequestDecorator('principal')) {
    throw new PortcullisConfigError(
      'PCL_INVALID_OPTIONS',
      'routes require a verified token but no token verifier is registered: register @portcullis/tokens (or use @portcullis/fastify, which does)',
      { field: 'tokens' },
    )
  }
}

/**
 * The policy plugin: compiles each route's `config.guard` once at registration, refuses
 * unguarded routes at startup (`PCL_UNGUARDED_ROUTE`) and at run time, answers anonymous
 * requests to unknown URLs with 401, and keeps the route inventory (`app.portcullis.routes()`).
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/route-guards.md
 */
export const policyPlugin = fp(portcullisPolicy, {
  fastify: '5.x',
  name: '@portcullis/policy',
})
