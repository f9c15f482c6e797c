// RFC 9728 protected resource metadata, shared by the adapters' suites
// (test/fastify/resource-metadata.test.ts, test/express/resource-metadata.test.ts): each starts
// an app on loopback with the given options and routes, and a real OAuth client library
// (oauth4webapi) discovers the metadata and reads the challenges.
import type { RouteGuard } from '@portcullis/core'
import type { TestIssuer } from '@portcullis/testing'
import { createServer } from 'node:net'
import * as oauth from 'oauth4webapi'
import { describe, expect, it } from 'vitest'

/** A route of the metadata apps. */
export interface MetadataRoute {
  readonly url: string
  readonly guard: RouteGuard
}

/** An app started on `port` of 127.0.0.1 with `options` beside `tokens`. */
export interface MetadataApp {
  readonly issuer: TestIssuer
  readonly base: string
  close(): Promise<void>
}

export type StartMetadataApp = (
  port: number,
  options: Record<string, unknown>,
  routes: readonly MetadataRoute[],
) => Promise<MetadataApp>

export type OptionsError = (options: Record<string, unknown>) => Promise<Error & { code?: string }>

export const metadataRoutes: readonly MetadataRoute[] = [
  {
    url: '/v1/videos/:id',
    guard: { scopes: ['videos:read'], response: { allow: ['id'] } },
  },
  {
    url: '/v1/admin',
    guard: { scopes: { anyOf: ['admin', 'videos:write'] }, response: { allow: ['id'] } },
  },
  { url: '/healthz', guard: { public: 'liveness probe', response: { allow: ['id'] } } },
]

/** A free port on 127.0.0.1: the resource identifier names it before the app listens. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

const insecure = { [oauth.allowInsecureRequests]: true }

async function discover(resource: URL): Promise<oauth.ResourceServer> {
  const response = await oauth.resourceDiscoveryRequest(resource, insecure)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/u)
  return oauth.processResourceDiscoveryResponse(resource, response)
}

/** The challenges of a request refused for its token, as oauth4webapi parses them. */
async function challenges(
  url: string,
  token: string,
): Promise<readonly oauth.WWWAuthenticateChallenge[]> {
  try {
    await oauth.protectedResourceRequest(token, 'GET', new URL(url), new Headers(), null, {
      ...insecure,
    })
  } catch (err) {
    if (err instanceof oauth.WWWAuthenticateChallengeError) return err.cause
    throw err
  }
  throw new Error(`${url}: expected a challenge`)
}

/** The shared suite: `start` builds an app on one adapter, `invalid` returns its options error. */
export function resourceMetadataSuite(
  adapter: string,
  start: StartMetadataApp,
  invalid: OptionsError,
): void {
  describe(`RFC 9728 protected resource metadata (${adapter})`, () => {
    it('is discovered by oauth4webapi, with the known scopes and the header method', async () => {
      const port = await freePort()
      const resource = `http://127.0.0.1:${port}`
      const app = await start(
        port,
        {
          knownScopes: ['videos:read', 'admin', 'videos:write'],
          resourceMetadata: {
            resource,
            authorizationServers: ['https://auth.internal'],
            resourceName: 'Videos API',
            resourceDocumentation: 'https://docs.internal/videos',
          },
        },
        metadataRoutes,
      )
      try {
        const metadata = await discover(new URL(resource))
        expect(metadata).toEqual({
          resource,
          authorization_servers: ['https://auth.internal'],
          scopes_supported: ['admin', 'videos:read', 'videos:write'],
          bearer_methods_supported: ['header'],
          resource_name: 'Videos API',
          resource_documentation: 'https://docs.internal/videos',
        })
      } finally {
        await app.close()
      }
    })

    it('puts resource_metadata in every challenge: 401 without a token, 401 for a bad one, 403 for a scope', async () => {
      const port = await freePort()
      const resource = `http://127.0.0.1:${port}/api`
      const url = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/api`
      const app = await start(
        port,
        { resourceMetadata: { resource, authorizationServers: ['https://auth.internal'] } },
        metadataRoutes,
      )
      try {
        // RFC 9728 §3.1: a resource with a path is described under the well-known path + its path.
        const metadata = await discover(new URL(resource))
        expect(metadata.resource).toBe(resource)
        // Without knownScopes: every scope a route requires.
        expect(metadata.scopes_supported).toEqual(['admin', 'videos:read', 'videos:write'])

        // RFC 6750 §3.1: no error code without credentials (oauth4webapi always sends a token).
        const anonymous = await fetch(`${app.base}/v1/videos/1`)
        expect(anonymous.headers.get('www-authenticate')).toBe(
          `Bearer realm="test", resource_metadata="${url}"`,
        )
        const expired = await app.issuer.token({ scope: 'videos:read', expiresIn: -60 })
        const [invalidToken] = await challenges(`${app.base}/v1/videos/1`, expired)
        expect(invalidToken?.parameters).toMatchObject({
          error: 'invalid_token',
          resource_metadata: url,
        })
        const reader = await app.issuer.token({ scope: 'videos:read' })
        const [scope] = await challenges(`${app.base}/v1/admin`, reader)
        expect(scope?.parameters).toMatchObject({
          error: 'insufficient_scope',
          resource_metadata: url,
        })
        // Unknown URLs answer anonymous requests with the same challenge.
        const unknown = await fetch(`${app.base}/v1/nothing-here`)
        expect(unknown.status).toBe(401)
        expect(unknown.headers.get('www-authenticate')).toContain(`resource_metadata="${url}"`)
        // A client follows the parameter to the document.
        const followed = await fetch(invalidToken!.parameters.resource_metadata!)
        const body = (await oauth.processResourceDiscoveryResponse(
          new URL(resource),
          followed,
        )) as { resource: string }
        expect(body.resource).toBe(resource)
      } finally {
        await app.close()
      }
    })

    it('names DPoP algorithms when DPoP is configured, and query when a route accepts it', async () => {
      const port = await freePort()
      const resource = `http://127.0.0.1:${port}`
      const app = await start(
        port,
        {
          tokens: { dpop: { algorithms: ['ES256', 'EdDSA'] } },
          resourceMetadata: { resource, authorizationServers: ['https://auth.internal'] },
        },
        [
          ...metadataRoutes,
          {
            url: '/v1/feed',
            guard: { authenticated: true, queryToken: true, response: { allow: ['id'] } },
          },
          {
            url: '/v1/bound',
            guard: { authenticated: true, dpop: true, response: { allow: ['id'] } },
          },
        ],
      )
      try {
        const metadata = await discover(new URL(resource))
        expect(metadata.dpop_signing_alg_values_supported).toEqual(['ES256', 'EdDSA'])
        expect(metadata.bearer_methods_supported).toEqual(['header', 'query'])
        expect(metadata.dpop_bound_access_tokens_required).toBeUndefined()
        // A Bearer token where only DPoP is accepted: the DPoP challenge names the metadata too.
        const bearer = await app.issuer.token({ scope: 'videos:read' })
        const found = await challenges(`${app.base}/v1/bound`, bearer)
        expect(found).toHaveLength(1)
        expect(found[0]?.scheme).toBe('dpop')
        expect(found[0]?.parameters).toMatchObject({
          algs: 'ES256 EdDSA',
          resource_metadata: `${resource}/.well-known/oauth-protected-resource`,
        })
      } finally {
        await app.close()
      }
    })

    it('is a public route that refuses a forged token like any other', async () => {
      const port = await freePort()
      const resource = `http://127.0.0.1:${port}`
      const app = await start(
        port,
        { resourceMetadata: { resource, authorizationServers: ['https://auth.internal'] } },
        metadataRoutes,
      )
      try {
        const well = `${app.base}/.well-known/oauth-protected-resource`
        const forged = await fetch(well, { headers: { authorization: 'Bearer not.a.jwt' } })
        expect(forged.status).toBe(401)
        expect(forged.headers.get('www-authenticate')).toContain('resource_metadata=')
        // Other methods are not served.
        const post = await fetch(well, { method: 'POST' })
        expect(post.status).not.toBe(200)
      } finally {
        await app.close()
      }
    })

    it('is off by default: no route, no parameter', async () => {
      const port = await freePort()
      const app = await start(port, {}, metadataRoutes)
      try {
        const res = await fetch(`${app.base}/.well-known/oauth-protected-resource`)
        expect(res.status).toBe(401)
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="test"')
      } finally {
        await app.close()
      }
    })

    it.each([
      [{ resource: 'http://api.example.com', authorizationServers: ['https://a'] }, 'resource'],
      [{ resource: 'https://api.example.com#x', authorizationServers: ['https://a'] }, 'resource'],
      [
        { resource: 'https://api.example.com?x=1', authorizationServers: ['https://a'] },
        'resource',
      ],
      [{ resource: 'not a url', authorizationServers: ['https://a'] }, 'resource'],
      [{ resource: 'https://api.example.com', authorizationServers: [] }, 'authorizationServers'],
      [
        { resource: 'https://api.example.com', authorizationServers: ['http://auth.example.com'] },
        'authorizationServers',
      ],
      [{ resource: 'https://api.example.com' }, 'authorizationServers'],
      [{ resource: 'https://api.example.com', authorizationServers: ['https://a'], extra: 1 }, ''],
    ])('refuses %j with PCL_INVALID_OPTIONS naming the field', async (resourceMetadata, field) => {
      const err = await invalid({ resourceMetadata })
      expect(err.code).toBe('PCL_INVALID_OPTIONS')
      expect(err.message).toContain(`resourceMetadata${field === '' ? '' : `.${field}`}`)
    })
  })
}
