import type { Principal } from '@portcullis/core'
import type { TokensOptions } from '../options/index.js'
import type { ResourceMetadataOptions } from '../resource-metadata/index.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The verified caller, set only from a verified access token; `null` when the request
     * carried no token (possible only on public routes and unknown URLs). Frozen.
     */
    principal: Principal | null
  }
}

declare module '@portcullis/core' {
  interface GuardOptions {
    /** Required: the trusted issuers and how tokens are verified and cached. */
    tokens: TokensOptions
    /**
     * Publish this resource's OAuth 2.0 protected resource metadata (RFC 9728): serves
     * `GET /.well-known/oauth-protected-resource` (a public route) and adds
     * `resource_metadata="<its URL>"` to every `WWW-Authenticate` challenge, so that clients
     * discover where to get a token. Off by default.
     */
    resourceMetadata?: ResourceMetadataOptions
  }
  interface RouteGuard {
    /**
     * Accept the access token in the query string (`?access_token=`, RFC 6750 §2.3) on this
     * route, for clients that cannot set a header (an `<img>` or `EventSource` URL). Discouraged:
     * URLs end up in logs. Never together with an Authorization header. Default: refused (400).
     */
    queryToken?: true
    /**
     * Accept only DPoP-bound access tokens on this route, with the `DPoP` scheme and a valid
     * proof (RFC 9449): a `Bearer` token is refused (401 `PCL_DPOP_REQUIRED`) even when it is not
     * bound. Not a requirement by itself: combine it with one (`authenticated: true`, `scopes`).
     * Default: the issuer's `dpop` mode and the token's binding decide.
     */
    dpop?: true
  }
}
