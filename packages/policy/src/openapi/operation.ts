import type { InventoryEntry, RouteAccess } from '../inventory/index.js'
import { allowlistSchema, type JsonSchema } from './response-schema.js'

/** The name of the problem+json schema in `components.schemas`. */
export const PROBLEM_SCHEMA = 'PortcullisProblem'

/** The default security scheme: an HTTP bearer token, a JWT. */
export const BEARER_SCHEME = 'bearerAuth'

/** The problem+json body of every refusal (RFC 9457), as `components.schemas.PortcullisProblem`. */
export const problemSchema: JsonSchema = Object.freeze({
  type: 'object',
  description: 'A refusal of the Portcullis guard: an RFC 9457 problem with a stable code.',
  required: ['type', 'title', 'status', 'code'],
  properties: {
    type: { type: 'string', format: 'uri-reference' },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    code: { type: 'string', pattern: '^PCL_[A-Z0-9_]+$' },
    detail: { type: 'string' },
    instance: { type: 'string' },
  },
})

/** `components.securitySchemes.bearerAuth`, added when no other scheme is named. */
export const bearerScheme: JsonSchema = Object.freeze({
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
})

/** An operation's security requirement list (OpenAPI 3 §4.8.30). */
export type SecurityRequirements = readonly Readonly<Record<string, readonly string[]>>[]

/** What the guard of one operation writes into it. */
export interface GuardedOperation {
  readonly security: SecurityRequirements
  /** The responses the guard adds: `401`, `403`, `429`, and `200` when narrowed. */
  readonly responses: Readonly<Record<string, JsonSchema>>
}

/** The settings of one document: its security scheme, and whether scopes are listed. */
export interface OperationSettings {
  readonly scheme: string
  readonly scopes: boolean
  readonly narrowResponses: boolean
}

// Past this many alternatives (any-of groups multiply), the requirement lists the all-of scopes.
const MAX_ALTERNATIVES = 32

function scopeAlternatives(access: RouteAccess): string[][] {
  let alternatives: string[][] = [[...access.allOf]]
  for (const group of access.anyOf) {
    if (alternatives.length * group.length > MAX_ALTERNATIVES) return [[...access.allOf]]
    alternatives = alternatives.flatMap((chosen) =>
      group.map((scope) => [...new Set([...chosen, scope])].sort()),
    )
  }
  return alternatives
}

function problem(description: string, headers?: Record<string, string>): JsonSchema {
  return {
    description,
    ...(headers === undefined
      ? {}
      : {
          headers: Object.fromEntries(
            Object.entries(headers).map(([name, text]) => [
              name,
              { description: text, schema: { type: 'string' } },
            ]),
          ),
        }),
    content: {
      'application/problem+json': { schema: { $ref: `#/components/schemas/${PROBLEM_SCHEMA}` } },
    },
  }
}

// What the route requires beyond its scopes, without the values: a document is often public, and
// the client ids and claim values a route admits are no one else's business.
function forbidden(access: RouteAccess): string {
  const needs: string[] = []
  if (access.allOf.length > 0) needs.push(`the scopes ${access.allOf.join(', ')}`)
  for (const group of access.anyOf) needs.push(`one of the scopes ${group.join(', ')}`)
  if (access.callers !== null) needs.push('a caller (client) the route admits')
  const claims = Object.keys(access.claims)
  if (claims.length > 0) needs.push(`claims ${claims.join(', ')} that meet its rules`)
  if (access.checks.length > 0) needs.push('its checks to pass')
  return needs.length === 0
    ? 'Forbidden: the token does not meet the route guard.'
    : `Forbidden: the route requires ${needs.join('; ')}.`
}

function limited(entry: InventoryEntry): boolean {
  const { rateLimit, budget, enumeration } = entry.limits
  return rateLimit?.kind === 'limit' || budget !== null || enumeration !== null
}

/** The success fields of a route's allowlist, for every audience (scoped fields are optional). */
function successPaths(entry: InventoryEntry): string[] | null {
  if (entry.exposure.kind !== 'allowlist') return null
  const paths = new Set<string>()
  for (const group of entry.exposure.groups) {
    if (group.status !== 'success') continue
    for (const field of group.fields) if (field.via === undefined) paths.add(field.path)
  }
  return [...paths]
}

/**
 * What a route's guard writes into its OpenAPI operation: the security requirement (`[]` for a
 * public route, the scheme with the route's scopes otherwise, one alternative per any-of choice)
 * and the problem+json responses it can answer (`401` and `403` on guarded routes, `429` where a
 * limit applies), and with `narrowResponses` the `200` its allowlist lets out. `null` for a route
 * without a valid guard, which is never served.
 */
export function guardedOperation(
  entry: InventoryEntry,
  settings: OperationSettings,
): GuardedOperation | null {
  const { access } = entry
  if (!entry.guarded || access === null) return null
  const responses: Record<string, JsonSchema> = {}
  let security: SecurityRequirements
  if (access.public !== null) {
    security = []
  } else {
    security = settings.scopes
      ? scopeAlternatives(access).map((scopes) => ({ [settings.scheme]: scopes }))
      : [{ [settings.scheme]: [] }]
    responses['401'] = problem('Unauthorized: no valid access token.', {
      'WWW-Authenticate': 'The Bearer (or DPoP) challenge, RFC 6750 §3.',
    })
    responses['403'] = problem(forbidden(access))
  }
  if (limited(entry)) {
    responses['429'] = problem('Too many requests: a rate limit or budget of this route.', {
      'Retry-After': 'Seconds until a request can succeed.',
    })
  }
  const paths = settings.narrowResponses ? successPaths(entry) : null
  if (paths !== null) {
    responses['200'] = {
      description: 'The fields the response allowlist lets out.',
      content: {
        'application/json': { schema: allowlistSchema(paths, entry.exposure.maxItems) },
      },
    }
  }
  return { security, responses }
}
