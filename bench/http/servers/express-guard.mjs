// Scenario 5b: the Portcullis Express adapter on the same route, configured as the Fastify
// guard of scenario 2: ES256 tokens through the issuer's JWKS (served by this process on
// loopback), scopes + callers + a claim matched against the URL, an in-memory rate limit keyed
// by subject and an allowlist of 8 response fields; the same token on every request.
import { createGuard } from '@portcullis/express'
import express from 'express'
import {
  ALLOWED_FIELDS,
  AUDIENCE,
  CALLERS,
  ISSUER,
  issuerWithTokens,
  main,
  ROUTE,
  SCOPES,
  expressServer,
  serve,
  serverArgs,
  video,
} from './shared.mjs'

const SILENT = {
  isLevelEnabled: () => false,
  info() {},
  warn() {},
  error() {},
}

main(async () => {
  // `--without rate-limit` measures the adapter without its limiter, as guard.mjs does.
  const { without } = serverArgs({ without: { type: 'string', default: '' } })
  const tokens = await issuerWithTokens(0)
  const guard = createGuard({
    tokens: {
      issuers: [
        { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], jwksUri: tokens.jwksUri },
      ],
    },
    ...(without === 'rate-limit' ? {} : { rateLimit: { max: 1e9, timeWindow: '1 minute' } }),
    // Silent, as the Fastify servers are (no logger): nothing is built for a log nobody reads.
    logger: SILENT,
  })
  const app = express()
  app.get(
    ROUTE,
    guard({
      scopes: SCOPES,
      callers: CALLERS,
      claims: { tenant: { param: 'tenantId' } },
      response: { allow: ALLOWED_FIELDS },
    }),
    (req, res) => {
      res.json(video(req.params))
    },
  )
  guard.seal(app)
  await serve(expressServer(app), { tokens, close: [() => tokens.issuer.close(), guard.close] })
})
