// A real authorization server for the introspection and step-up interop tests: oidc-provider on
// loopback, issuing opaque access tokens (client credentials, RFC 8707 resource indicator) and
// answering RFC 7662 introspection. Its introspection endpoint sits behind a switch that counts
// the calls and can fail them (HTTP 503, a hang past the client's timeout, a dropped
// connection); `stop()` closes the port (connection refused).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'

/** What the introspection endpoint does with the next calls. */
export type EndpointMode = 'up' | 'http-503' | 'hang' | 'drop'

export interface AuthorizationServer {
  /** The issuer (`iss`), `http://127.0.0.1:<port>`. */
  readonly issuer: string
  /** The introspection endpoint. */
  readonly endpoint: string
  /** The resource (audience) its tokens are bound to. */
  readonly audience: string
  /** The protected service's credentials at the endpoint. */
  readonly clientId: string
  readonly clientSecret: string
  /** Calls that reached the introspection endpoint (whatever the mode answered). */
  calls(): number
  mode: EndpointMode
  /** Milliseconds each introspection call is held before it is answered. */
  delayMs: number
  /**
   * An opaque access token for client `svc`, with these scopes. `mfa` gives it
   * `acr: urn:mace:incommon:iap:gold`, else silver; `stale-login` an `auth_time` an hour ago
   * (else 30 s ago); `short-lived` an `exp` 2 s from now (else 10 minutes).
   */
  token(scope: string): Promise<string>
  /** Revokes a token at the server (RFC 7009): introspection then answers `active: false`. */
  revoke(token: string): Promise<void>
  stop(): Promise<void>
}

export const GOLD = 'urn:mace:incommon:iap:gold'
export const SILVER = 'urn:mace:incommon:iap:silver'
const SCOPES = 'videos:read videos:write mfa stale-login short-lived'

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
}

/** Starts the server on 127.0.0.1 (port 0). */
export async function startAuthorizationServer(): Promise<AuthorizationServer> {
  let handler: (req: IncomingMessage, res: ServerResponse) => unknown = () => undefined
  let calls = 0
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/token/introspection') === true) {
      calls++
      const mode = as.mode
      if (mode === 'hang') return
      if (mode === 'drop') {
        req.socket.destroy()
        return
      }
      if (mode === 'http-503') {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance')
        return
      }
      setTimeout(() => handler(req, res), as.delayMs)
      return
    }
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const audience = 'urn:videos-api'
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'svc',
        client_secret: 'svc-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
      {
        client_id: 'videos-api',
        client_secret: 'videos-api-secret',
        grant_types: [],
        redirect_uris: [],
        response_types: [],
      },
      {
        client_id: 'videos-api-post',
        client_secret: 'videos-api-post-secret',
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: [],
        redirect_uris: [],
        response_types: [],
      },
    ],
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: SCOPES, audience, accessTokenFormat: 'opaque' }),
      },
    },
    ttl: {
      ClientCredentials: (_ctx, token) =>
        (token as { scope?: string }).scope?.split(' ').includes('short-lived') === true ? 2 : 600,
    },
    extraTokenClaims: (_ctx, token) => {
      const scopes = ((token as { scope?: string }).scope ?? '').split(' ')
      return {
        acr: scopes.includes('mfa') ? GOLD : SILVER,
        auth_time: Math.floor(Date.now() / 1000) - (scopes.includes('stale-login') ? 3600 : 30),
      }
    },
  })
  const callback = provider.callback()
  handler = (req, res) => void callback(req, res)
  const as: AuthorizationServer = {
    issuer,
    endpoint: `${issuer}/token/introspection`,
    audience,
    clientId: 'videos-api',
    clientSecret: 'videos-api-secret',
    calls: () => calls,
    mode: 'up',
    delayMs: 0,
    async token(scope) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: basic('svc', 'svc-secret'),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          resource: audience,
          scope,
        }).toString(),
      })
      const body = (await res.json()) as { access_token?: string }
      if (res.status !== 200 || body.access_token === undefined) {
        throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`)
      }
      return body.access_token
    },
    async revoke(token) {
      const res = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          authorization: basic('svc', 'svc-secret'),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }).toString(),
      })
      if (res.status !== 200) throw new Error(`revocation failed: ${res.status}`)
    },
    async stop() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
  return as
}
