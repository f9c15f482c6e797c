import type { CompiledGuard, Explanation } from '../guard/index.js'
import {
  accessOf,
  exposureOf,
  limitsOf,
  type FieldClasses,
  type LimitExposure,
  type ResponseExposure,
  type RouteAccess,
  type RouteExposure,
  type RouteLimits,
} from './register.js'

/**
 * One row of the route inventory: what a route requires, as `app.portcullis.routes()` and
 * `portcullis audit` show it. One row per method (a HEAD route Fastify adds for GET is a row).
 */
export interface InventoryEntry {
  readonly method: string
  readonly url: string
  /** Route constraints (`version`, `host`, ...), or `null`. */
  readonly constraints: Readonly<Record<string, unknown>> | null
  /** False when the route has no valid guard: it fails startup, or is refused at run time. */
  readonly guarded: boolean
  /** The reason when the route is public, else `null`. */
  readonly public: string | null
  /** A readable summary of the compiled policy (`null` for public and unguarded routes). */
  readonly policy: string | null
  /** True when the route's denials are only reported (not enforced): adopt, then enforce. */
  readonly reportOnly: boolean
  /** The rate limit summary, once a rate-limit plugin reports one. */
  readonly rateLimit: string | null
  /** The response allowlist summary, once an allowlist plugin reports one. */
  readonly response: string | null
  /**
   * The request body rule's summary (`guard.body`), `NONE: request bodies are not allowlisted`
   * for a route that accepts a body (POST, PUT, PATCH) without one, or `null` for a route that
   * accepts none.
   */
  readonly body: string | null
  /** The egress budget's summary (`guard.budget`: `1000 items per 1 hour by principal`), or `null`. */
  readonly budget: string | null
  /** The enumeration limit's summary (`guard.enumeration`: `200 distinct :id per 1 hour ...`), or `null`. */
  readonly enumeration: string | null
  /**
   * The register's access side: who may call the route (public reason, scopes, callers, claims,
   * checks), from the effective guard; `null` for an unguarded route.
   */
  readonly access: RouteAccess | null
  /**
   * The register's response side: per status list and scope, the fields that can leave with
   * their classes (`classify`), and `maxItems`.
   */
  readonly exposure: RouteExposure
  /** The rate limit, and the guard's budget and enumeration limits when it has them. */
  readonly limits: RouteLimits
}

/** What {@link PortcullisApi.explain} is asked: a request, and the claims of its token. */
export interface ExplainRequest {
  readonly method: string
  /** A URL (`/v1/videos/7`) or a route template (`/v1/videos/:id`). */
  readonly url: string
  /** The token's claims (`scope`, `client_id`, ...), or `null` for a request without a token. */
  readonly claims: Readonly<Record<string, unknown>> | null
  /** Query values, for `{ query }` claim rules. */
  readonly query?: Readonly<Record<string, string>>
  readonly headers?: Readonly<Record<string, string>>
}

/** An {@link Explanation} of one route: which route matched, with which parameters. */
export interface RouteExplanation extends Explanation {
  /** `GET /v1/videos/:id`. */
  readonly route: string
  readonly params: Readonly<Record<string, string>>
}

/** The `app.portcullis` decoration. */
export interface PortcullisApi {
  /** The route inventory: every route the app serves and what it requires, sorted by URL. */
  routes(): readonly InventoryEntry[]
  /**
   * What the route's compiled guard would decide for a token with these claims, and why, rule
   * by rule (`portcullis explain`). Throws when no route matches. Rate limits are not counted.
   */
  explain(request: ExplainRequest): Promise<RouteExplanation>
}

/** What an inventory row says of a route, besides its method. */
export interface InventoryRoute {
  readonly url: string
  readonly constraints: Readonly<Record<string, unknown>> | null
  /** The route's compiled guard, or `null` for an unguarded route. */
  readonly compiled: Pick<CompiledGuard, 'public' | 'summary' | 'reportOnly' | 'guard'> | null
  /** The summaries the rate-limit and allowlist steps reported, if they did. */
  readonly rateLimit: string | null
  readonly response: string | null
  /** The request body rule's summary, or its flag, as the allowlist step reported it. */
  readonly body: string | null
  /** The egress budget and enumeration limit summaries, when the route declares them. */
  readonly budget?: string | null
  readonly enumeration?: string | null
  /** What the allowlist step reported of the response, or `null` when it reported nothing. */
  readonly exposure?: ResponseExposure | null
  /** The rate limit the rate-limit step reported, or `null`. */
  readonly limit?: LimitExposure | null
  /** The application's field classes (`classify` option). */
  readonly classify?: FieldClasses
}

/** The inventory rows of a route, one per method, the same on every adapter. */
export function inventoryEntries(
  methods: readonly string[],
  route: InventoryRoute,
): InventoryEntry[] {
  const { compiled } = route
  // One register for every method of the route (the rows share it).
  const access = compiled === null ? null : accessOf(compiled.guard, compiled.reportOnly)
  const exposure = exposureOf(route.exposure ?? null, route.classify ?? {})
  const limits = limitsOf(compiled?.guard ?? null, route.limit ?? null)
  return methods.map((method) =>
    Object.freeze({
      method,
      url: route.url,
      constraints: route.constraints,
      guarded: compiled !== null,
      public: compiled?.public ?? null,
      policy: compiled !== null && compiled.public === null ? compiled.summary : null,
      reportOnly: compiled?.reportOnly ?? false,
      rateLimit: route.rateLimit,
      response: route.response,
      body: route.body,
      budget: route.budget ?? null,
      enumeration: route.enumeration ?? null,
      access,
      exposure,
      limits,
    }),
  )
}

/** Orders inventory rows by URL, then method. */
export function compareEntries(a: InventoryEntry, b: InventoryEntry): number {
  if (a.url !== b.url) return a.url < b.url ? -1 : 1
  return a.method < b.method ? -1 : a.method > b.method ? 1 : 0
}
