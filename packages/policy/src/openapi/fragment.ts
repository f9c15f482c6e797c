import type { InventoryEntry } from '../inventory/index.js'
import {
  BEARER_SCHEME,
  bearerScheme,
  guardedOperation,
  PROBLEM_SCHEMA,
  problemSchema,
  type GuardedOperation,
  type OperationSettings,
} from './operation.js'
import { resolveOpenApiOptions, type OpenApiOptions } from './openapi-options.js'
import type { JsonSchema } from './response-schema.js'

/**
 * The part of an OpenAPI 3 document the guards determine: per path and method, the security
 * requirement and the responses the guard answers, and the components they reference. Merge it
 * into the document of any generator.
 */
export interface OpenApiFragment {
  readonly paths: Readonly<Record<string, Readonly<Record<string, GuardedOperation>>>>
  readonly components: {
    readonly schemas: Readonly<Record<string, JsonSchema>>
    readonly securitySchemes: Readonly<Record<string, JsonSchema>>
  }
}

/** `/v1/videos/:id` → `/v1/videos/{id}`, as OpenAPI writes path parameters. */
export function openApiPath(url: string): string {
  return url.replace(/[:*]([A-Za-z0-9_]+)/gu, '{$1}')
}

/** The document settings of a fragment: its scheme (`bearerAuth` unless named), and scopes. */
export function fragmentSettings(options: OpenApiOptions): OperationSettings {
  const scheme = options.securityScheme ?? BEARER_SCHEME
  return {
    scheme,
    scopes: options.scopes ?? scheme !== BEARER_SCHEME,
    narrowResponses: options.narrowResponses ?? false,
  }
}

/**
 * The OpenAPI fragment of an inventory (`guard.routes()`, `app.portcullis.routes()`): what every
 * guard writes into its operation. HEAD rows of a GET route are left out, as generators do.
 */
export function openApiFragment(
  entries: readonly InventoryEntry[],
  input?: OpenApiOptions,
): OpenApiFragment {
  const options = resolveOpenApiOptions(input, 'openapi')
  const settings = fragmentSettings(options)
  const paths: Record<string, Record<string, GuardedOperation>> = {}
  const gets = new Set(entries.filter((e) => e.method === 'GET').map((e) => e.url))
  for (const entry of entries) {
    if (entry.method === 'HEAD' && gets.has(entry.url)) continue
    const operation = guardedOperation(entry, settings)
    if (operation === null) continue
    const path = openApiPath(entry.url)
    paths[path] = { ...paths[path], [entry.method.toLowerCase()]: operation }
  }
  return {
    paths,
    components: {
      schemas: { [PROBLEM_SCHEMA]: problemSchema },
      securitySchemes: settings.scheme === BEARER_SCHEME ? { [BEARER_SCHEME]: bearerScheme } : {},
    },
  }
}
