// Baseline of the cold scenarios: bare Fastify whose only extra work is one jose `jwtVerify` per
// request, keys from the same loopback JWKS (jose's remote key set, cached after the first fetch).
import Fastify from 'fastify'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import {
  AUDIENCE,
  ISSUER,
  issuerWithTokens,
  main,
  ROUTE,
  serve,
  serverArgs,
  video,
} from './shared.mjs'

main(async () => {
  const { pool } = serverArgs()
  const tokens = await issuerWithTokens(pool)
  const jwks = createRemoteJWKSet(new URL(tokens.jwksUri))
  const app = Fastify()
  app.addHook('onRequest', async (request, reply) => {
    const header = request.headers.authorization
    if (header === undefined || !header.startsWith('Bearer ')) return reply.code(401).send()
    try {
      const { payload } = await jwtVerify(header.slice(7), jwks, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['ES256'],
      })
      request.user = payload
    } catch {
      return reply.code(401).send()
    }
  })
  app.get(ROUTE, (request) => video(request.params))
  await serve(app, { tokens, close: [() => tokens.issuer.close()] })
})
