import portcullis from '@portcullis/fastify'
import Fastify from 'fastify'
import { expect, it } from 'vitest'
import { resourceMetadataSuite, freePort, metadataRoutes } from '../cases/resource-metadata.js'
import { guardedApp, readyError, trustedTokens } from '../helpers.js'
import { policyPlugin } from '@portcullis/policy'
import { createTestIssuer } from '@portcullis/testing'
import { tokensPlugin } from '@portcullis/tokens'

resourceMetadataSuite(
  'Fastify',
  async (port, options, routes) => {
    const { tokens, ...rest } = options as { tokens?: object }
    const issuer = await createTestIssuer()
    const { app } = await guardedApp(
      (a) => {
        for (const route of routes) {
          a.get(route.url, { config: { guard: route.guard } }, () => ({ id: 1 }))
        }
      },
      { issuer, portcullis: { ...rest, tokens: { ...trustedTokens(issuer), ...tokens } } },
    )
    await app.listen({ port, host: '127.0.0.1' })
    return { issuer, base: `http://127.0.0.1:${port}`, close: () => app.close() }
  },
  async (options) => {
    const issuer = await createTestIssuer()
    const app = Fastify()
    try {
      await app.register(portcullis, { tokens: trustedTokens(issuer), ...options })
    } catch (err) {
      return err as never
    }
    return await readyError(app)
  },
)

it('lists the metadata route in the inventory as public, with its allowlist', async () => {
  const port = await freePort()
  const { app } = await guardedApp(
    (a) => {
      for (const route of metadataRoutes) {
        a.get(route.url, { config: { guard: route.guard } }, () => ({ id: 1 }))
      }
    },
    {
      portcullis: {
        resourceMetadata: {
          resource: `http://127.0.0.1:${port}`,
          authorizationServers: ['https://auth.internal'],
        },
      },
    },
  )
  await app.ready()
  const row = app.portcullis
    .routes()
    .find((r) => r.url === '/.well-known/oauth-protected-resource' && r.method === 'GET')
  expect(row?.public).toBe('OAuth 2.0 protected resource metadata (RFC 9728)')
  expect(row?.exposure.groups[0]?.fields.map((f) => f.path)).toEqual([
    'authorization_servers[]',
    'bearer_methods_supported[]',
    'resource',
    'scopes_supported[]',
  ])
  await app.close()
})

it('the tokens and policy plugins alone take resourceMetadataUrl for their challenges', async () => {
  const issuer = await createTestIssuer()
  const url = 'https://api.example/.well-known/oauth-protected-resource'
  const app = Fastify()
  await app.register(tokensPlugin, { ...trustedTokens(issuer), resourceMetadataUrl: url })
  await app.register(policyPlugin, { realm: 'test', resourceMetadataUrl: url })
  app.get('/v1/admin', { config: { guard: { scopes: ['admin'] } } }, () => ({}))
  await app.ready()
  const anonymous = await app.inject({ method: 'GET', url: '/v1/admin' })
  expect(anonymous.headers['www-authenticate']).toBe(
    `Bearer realm="test", resource_metadata="${url}"`,
  )
  const token = await issuer.token({ scope: 'videos:read' })
  const scope = await app.inject({
    method: 'GET',
    url: '/v1/admin',
    headers: { authorization: `Bearer ${token}` },
  })
  expect(scope.statusCode).toBe(403)
  expect(scope.headers['www-authenticate']).toContain(`resource_metadata="${url}"`)
  await app.close()

  for (const [plugin, options] of [
    [tokensPlugin, { ...trustedTokens(issuer), resourceMetadataUrl: 'not a url' }],
    [policyPlugin, { resourceMetadataUrl: 'ftp://x' }],
  ] as const) {
    const bad = Fastify()
    await expect(
      (async () => {
        await bad.register(plugin as never, options as never)
        await bad.ready()
      })(),
    ).rejects.toMatchObject({ code: 'PCL_INVALID_OPTIONS' })
    await bad.close().catch(() => undefined)
  }
})
