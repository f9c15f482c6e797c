import portcullis from '@portcullis/fastify'
import Fastify from 'fastify'
import { expect, it } from 'vitest'
import { resourceMetadataSuite, freePort, metadataRoutes } from '../cases/resource-metadata.js'
import { guardedApp, readyError, trustedTokens } from '../helpers.js'
import { createTestIssuer } from '@portcullis/testing'

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
