import portcullis, { type AuditEvent } from '@portcullis/fastify'
import type { TestIssuer } from '@portcullis/testing'
import Fastify, { type FastifyInstance } from 'fastify'
import { videos } from './data.js'

/**
 * The internal video-metadata service: the kind of microservice the incident was about.
 * Every route declares its guard; the health check is public, with a reason.
 */
export async function buildApp(
  issuer: TestIssuer,
  options: { audit?: (event: AuditEvent) => void; logger?: boolean } = {},
): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false })
  await app.register(portcullis, {
    tokens: {
      issuers: [
        {
          issuer: issuer.issuer,
          audience: issuer.audience,
          algorithms: ['ES256'],
          jwks: issuer.jwks,
        },
      ],
      realm: 'video-platform',
    },
    ...(options.audit === undefined ? {} : { audit: options.audit }),
  })

  app.get(
    '/healthz',
    { config: { guard: { public: 'liveness probe for the orchestrator' } } },
    () => ({
      ok: true,
    }),
  )

  app.get('/v1/videos', { config: { guard: { authenticated: true } } }, () =>
    videos.slice(0, 20).map((v) => ({ id: v.id, title: v.title })),
  )

  app.get<{ Params: { id: string } }>(
    '/v1/videos/:id',
    { config: { guard: { authenticated: true } } },
    (req, reply) => {
      const video = videos.find((v) => v.id === req.params.id)
      if (video === undefined) return reply.code(404).send({ error: 'not found' })
      return { id: video.id, title: video.title, durationSec: video.durationSec }
    },
  )

  // Uncomment to see deny by default at work: startup fails with PCL_UNGUARDED_ROUTE,
  // listing GET and HEAD /v1/internal/dump.
  // app.get('/v1/internal/dump', () => videos)

  return app
}
