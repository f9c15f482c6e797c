// Scenario 4: the common peer stack. @fastify/jwt (fast-jwt, ES256, the issuer's public key as
// PEM) verifying in an onRequest hook, a hand-written scope + caller + tenant check in the next
// hook, @fastify/rate-limit keyed by `sub`, and a response schema with the same 8 fields.
// `--cache on`: fast-jwt's verification cache (the peer's best case); `--cache off`: none.
import { createPublicKey } from 'node:crypto'
import fastifyJwt from '@fastify/jwt'
import fastifyRateLimit from '@fastify/rate-limit'
import Fastify from 'fastify'
import {
  allowedSchema,
  AUDIENCE,
  CALLERS,
  ISSUER,
  issuerWithTokens,
  main,
  ROUTE,
  SCOPES,
  serve,
  serverArgs,
  video,
} from './shared.mjs'

main(async () => {
  const args = serverArgs({ cache: { type: 'string', default: 'on' } })
  if (args.cache !== 'on' && args.cache !== 'off') throw new Error('--cache must be on or off')
  const tokens = await issuerWithTokens(args.pool)
  const [jwk] = tokens.issuer.jwks.keys
  const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' })

  const app = Fastify()
  await app.register(fastifyJwt, {
    secret: { public: pem },
    verify: {
      algorithms: ['ES256'],
      allowedIss: ISSUER,
      allowedAud: AUDIENCE,
      ...(args.cache === 'on' ? { cache: true } : {}),
    },
  })
  // The hooks added here run before the route-level hook @fastify/rate-limit adds, so the limit
  // can be keyed by the verified subject.
  app.addHook('onRequest', async (request) => {
    await request.jwtVerify()
  })
  const required = SCOPES
  const callers = new Set(CALLERS)
  app.addHook('onRequest', async (request, reply) => {
    const { user } = request
    const scopes = new Set(typeof user.scope === 'string' ? user.scope.split(' ') : [])
    if (
      !required.every((s) => scopes.has(s)) ||
      !callers.has(user.client_id) ||
      user.tenant !== request.params.tenantId
    ) {
      return reply.code(403).send({ error: 'forbidden' })
    }
  })
  await app.register(fastifyRateLimit, {
    max: 1e9,
    timeWindow: '1 minute',
    keyGenerator: (request) => request.user.sub,
  })
  app.get(ROUTE, { schema: { response: { 200: allowedSchema } } }, (request) =>
    video(request.params),
  )
  await serve(app, {
    tokens,
    features: { cache: args.cache === 'on' },
    close: [() => tokens.issuer.close()],
  })
})
