import { PortcullisConfigError } from '@portcullis/core'
import type { InventoryEntry } from '../inventory/index.js'
import {
  BEARER_SCHEME,
  bearerScheme,
  guardedOperation,
  PROBLEM_SCHEMA,
  problemSchema,
  type OperationSettings,
} from './operation.js'
import type { OpenApiOptions } from './openapi-options.js'

type Json = Record<string, unknown>

/** An OpenAPI 3 document, as far as the guards write into it. */
export interface OpenApiDocument {
  components?: { schemas?: Json; securitySchemes?: Json; [key: string]: unknown }
  paths?: Record<string, Json | undefined>
  [key: string]: unknown
}

/** Which route an operation of the document documents. */
export interface DocumentedRoute {
  readonly entry: InventoryEntry
  /** True when the route declares a response schema of its own (never narrowed). */
  readonly hasResponseSchema: boolean
}

const OPEN_SCHEMES = new Set(['oauth2', 'openIdConnect'])

/**
 * The settings of a document: the named scheme, else its only `oauth2` or `openIdConnect`
 * scheme, else `bearerAuth`; scopes listed for `oauth2` and `openIdConnect` schemes.
 */
export function documentSettings(
  schemes: Readonly<Json>,
  options: OpenApiOptions,
): OperationSettings {
  let name = options.securityScheme
  if (name === undefined) {
    const open = Object.keys(schemes).filter((key) =>
      OPEN_SCHEMES.has(String((schemes[key] as { type?: unknown } | null)?.type)),
    )
    name = open.length === 1 ? open[0]! : BEARER_SCHEME
  }
  const scheme = schemes[name] as { type?: unknown } | undefined
  if (scheme === undefined && name !== BEARER_SCHEME) {
    throw new PortcullisConfigError(
      'PCL_INVALID_OPTIONS',
      `portcullis options: openapi.securityScheme: '${name}' is not in components.securitySchemes of the document; declare it in the generator's options (@fastify/swagger: openapi.components.securitySchemes)`,
      { field: 'openapi.securityScheme' },
    )
  }
  const type = scheme === undefined ? 'http' : String(scheme.type)
  return {
    scheme: name,
    scopes: options.scopes ?? OPEN_SCHEMES.has(type),
    narrowResponses: options.narrowResponses ?? false,
  }
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])

/**
 * Writes the guards into a generated document, in place: each operation `find` maps to a route
 * gets the route's security requirement (replacing a hand-written one, which is what drifts) and
 * the problem+json responses the guard answers, unless the operation declares that status
 * already; the 200 is narrowed to the allowlist only for routes without a response schema.
 * Returns how many operations were written.
 */
export function applyGuards(
  document: OpenApiDocument,
  find: (path: string, method: string, operation: Json) => DocumentedRoute | null,
  options: OpenApiOptions,
): number {
  const settings = documentSettings(document.components?.securitySchemes ?? {}, options)
  let written = 0
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    if (item === undefined) continue
    for (const [method, value] of Object.entries(item)) {
      if (!METHODS.has(method) || value === null || typeof value !== 'object') continue
      const operation = value as Json
      const route = find(path, method, operation)
      const guarded = route === null ? null : guardedOperation(route.entry, settings)
      if (route === null || guarded === null) continue
      operation.security = guarded.security
      const responses = ((operation.responses as Json | undefined) ??= {})
      operation.responses = responses
      for (const [status, response] of Object.entries(guarded.responses)) {
        if (status === '200') {
          if (!route.hasResponseSchema) responses['200'] = response
        } else if (responses[status] === undefined) {
          responses[status] = response
        }
      }
      written++
    }
  }
  // Components only for a document the guards wrote into (a static document stays as it is).
  if (written > 0) {
    const components = (document.components ??= {})
    const schemas = (components.schemas ??= {})
    schemas[PROBLEM_SCHEMA] ??= problemSchema
    if (settings.scheme === BEARER_SCHEME) {
      const schemes = (components.securitySchemes ??= {})
      schemes[BEARER_SCHEME] ??= bearerScheme
    }
  }
  return written
}
