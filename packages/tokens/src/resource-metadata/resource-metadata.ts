import { z } from 'zod'
import type { TokensOptions } from '../options/index.js'
import { httpsUrl } from '../lib/schema-parts.js'
import { tokensDefaults } from '../options/tokens-options-schema.js'

/**
 * The protected resource metadata this service publishes (RFC 9728): where clients, MCP clients
 * among them, learn which authorization servers issue tokens for it and how to present them.
 * With it, `GET /.well-known/oauth-protected-resource` is served (a public route) and every
 * `WWW-Authenticate` challenge carries `resource_metadata="<its URL>"` (RFC 9728 §5.1).
 *
 * @example
 * ```ts
 * resourceMetadata: {
 *   resource: 'https://videos.internal',
 *   authorizationServers: ['https://auth.internal'],
 *   resourceName: 'Videos API',
 * }
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9728
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/openapi.md#protected-resource-metadata-rfc-9728
 */
export interface ResourceMetadataOptions {
  /**
   * This resource's identifier (RFC 9728 §2 `resource`): the URL clients address it by, usually
   * the `audience` of its tokens. `https:` (`http:` only for a loopback host), no fragment, no
   * query. The metadata is served at `/.well-known/oauth-protected-resource` followed by its path
   * (RFC 9728 §3.1): `https://api.example/v1` is described at `/.well-known/oauth-protected-resource/v1`.
   */
  resource: string
  /** The issuers of tokens for this resource (`authorization_servers`), at least one. */
  authorizationServers: string[]
  /**
   * `scopes_supported`. Default: the `knownScopes` option, else every scope a route requires.
   * `[]` leaves the member out.
   */
  scopesSupported?: string[]
  /** `resource_name`: a human-readable name. */
  resourceName?: string
  /** `resource_documentation`: a page for developers. */
  resourceDocumentation?: string
  /** `resource_policy_uri`: how clients may use the data. */
  resourcePolicyUri?: string
  /** `resource_tos_uri`: the terms of service. */
  resourceTosUri?: string
}

const text = z.string({ error: 'must be a string' }).min(1, 'must not be empty').max(200)

/** The zod schema of the `resourceMetadata` option. */
export const resourceMetadataSchema = z.strictObject(
  {
    resource: httpsUrl({ what: 'an https URL (the resource identifier)', bare: true }),
    authorizationServers: z
      .array(httpsUrl({ what: 'an https URL (an issuer identifier)', bare: true }), {
        error: 'must be an array of issuer URLs',
      })
      .min(1, 'must list at least one authorization server'),
    scopesSupported: z.array(text, { error: 'must be an array of scopes' }).optional(),
    resourceName: text.optional(),
    resourceDocumentation: httpsUrl({ what: 'an https URL' }).optional(),
    resourcePolicyUri: httpsUrl({ what: 'an https URL' }).optional(),
    resourceTosUri: httpsUrl({ what: 'an https URL' }).optional(),
  },
  { error: 'must be an object { resource, authorizationServers }' },
)

/** The RFC 9728 §2 metadata document, as served. */
export interface ResourceMetadataDocument {
  readonly resource: string
  readonly authorization_servers: readonly string[]
  readonly scopes_supported?: readonly string[]
  readonly bearer_methods_supported: readonly string[]
  readonly dpop_signing_alg_values_supported?: readonly string[]
  readonly dpop_bound_access_tokens_required?: boolean
  readonly resource_name?: string
  readonly resource_documentation?: string
  readonly resource_policy_uri?: string
  readonly resource_tos_uri?: string
}

/** What the adapters learn of the app once its routes are known. */
export interface ResourceMetadataRoutes {
  /** Every scope a route requires (used when neither `scopesSupported` nor `knownScopes` is set). */
  readonly scopes: readonly string[]
  /** True when a route accepts `?access_token=` (`guard.queryToken`). */
  readonly queryToken: boolean
}

/** The `resourceMetadata` option, resolved once: where it is served, and what it says. */
export interface ResolvedResourceMetadata {
  /** The absolute URL of the metadata, sent as `resource_metadata` in challenges. */
  readonly url: string
  /** The path of the route that serves it. */
  readonly path: string
  /** The fields of the document the route serves (its allowlist). */
  readonly fields: readonly string[]
  /** The document, once the app's routes are known. */
  document(routes: ResourceMetadataRoutes): ResourceMetadataDocument
}

/** The public reason of the metadata route, as the inventory shows it. */
export const RESOURCE_METADATA_REASON = 'OAuth 2.0 protected resource metadata (RFC 9728)'

const WELL_KNOWN = '/.well-known/oauth-protected-resource'

/**
 * Resolves the `resourceMetadata` option (validated by {@link resourceMetadataSchema}) with the
 * settings it reads: the DPoP algorithms of `tokens`, and `knownScopes`.
 */
export function resolveResourceMetadata(
  options: ResourceMetadataOptions,
  context: { readonly tokens: TokensOptions; readonly knownScopes: readonly string[] | undefined },
): ResolvedResourceMetadata {
  const resource = new URL(options.resource)
  // RFC 9728 §3.1: the well-known segment goes between the host and the resource's path.
  const path = resource.pathname === '/' ? WELL_KNOWN : `${WELL_KNOWN}${resource.pathname}`
  const { tokens } = context
  // An introspection issuer (opaque tokens) has no DPoP setting: it never requires DPoP.
  const dpopOf = (issuer: TokensOptions['issuers'][number]): string | undefined =>
    'dpop' in issuer ? issuer.dpop : undefined
  const dpop =
    tokens.dpop !== undefined || tokens.issuers.some((issuer) => dpopOf(issuer) !== undefined)
  const dpopRequired =
    tokens.issuers.length > 0 && tokens.issuers.every((issuer) => dpopOf(issuer) === 'required')
  const algorithms = tokens.dpop?.algorithms ?? tokensDefaults.dpop.algorithms
  const fixed = {
    resource: options.resource,
    authorization_servers: Object.freeze([...options.authorizationServers]),
    ...(dpop ? { dpop_signing_alg_values_supported: Object.freeze([...algorithms]) } : {}),
    ...(dpopRequired ? { dpop_bound_access_tokens_required: true } : {}),
    ...(options.resourceName === undefined ? {} : { resource_name: options.resourceName }),
    ...(options.resourceDocumentation === undefined
      ? {}
      : { resource_documentation: options.resourceDocumentation }),
    ...(options.resourcePolicyUri === undefined
      ? {}
      : { resource_policy_uri: options.resourcePolicyUri }),
    ...(options.resourceTosUri === undefined ? {} : { resource_tos_uri: options.resourceTosUri }),
  }
  const declared = options.scopesSupported ?? context.knownScopes
  return Object.freeze({
    url: `${resource.origin}${path}`,
    path,
    fields: Object.freeze([
      ...Object.entries(fixed).map(([key, value]) => (Array.isArray(value) ? `${key}[]` : key)),
      'scopes_supported[]',
      'bearer_methods_supported[]',
    ]),
    document(routes: ResourceMetadataRoutes): ResourceMetadataDocument {
      const scopes = [...new Set(declared ?? routes.scopes)].sort()
      return Object.freeze({
        ...fixed,
        ...(scopes.length === 0 ? {} : { scopes_supported: Object.freeze(scopes) }),
        // RFC 9728 §2: `header` is RFC 6750 §2.1; `query` (§2.3) only where a route accepts it.
        bearer_methods_supported: Object.freeze(
          routes.queryToken ? ['header', 'query'] : ['header'],
        ),
      })
    },
  })
}
