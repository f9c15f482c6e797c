import portcullis, { serializeRequest, type AuditEvent } from '@portcullis/fastify'
import type { TestIssuer } from '@portcullis/testing'
import Fastify, { type FastifyInstance } from 'fastify'
import { history, videos } from './data.js'

/** Service-to-service callers of this internal API. */
export const CALLERS = {
  search: 'search-svc',
  player: 'player-svc',
  moderation: 'moderation-console',
  recommendations: 'recommendations-svc',
} as const

/** Rows per page of the viewing-history routes. */
export const HISTORY_PAGE = 20

/**
 * The internal video-metadata service: the kind of microservice the incident was about. Every
 * route declares who may call it, how often, and which fields may leave; the handlers return
 * whole database rows, as the incident's did, and the guard trims them.
 */
export async function buildApp(
  issuer: TestIssuer,
  options: {
    audit?: (event: AuditEvent) => void
    logger?: boolean
    redisUrl?: string
    /** The service as it was before Portcullis: the same routes and handlers, no guard. */
    unguarded?: boolean
    /** `false`: the history routes without their egress budget and enumeration limit. */
    egress?: boolean
  } = {},
): Promise<FastifyInstance> {
  // Fastify logs each request's URL before any guard runs: serializeRequest keeps a token a client
  // put in the query (`?access_token=`, refused with 400) out of that line.
  const app = Fastify({
    logger: options.logger === true ? { serializers: { req: serializeRequest } } : false,
  })
  if (options.unguarded !== true) await guard(app, issuer, options)
  routes(app, options)
  return app
}

async function guard(
  app: FastifyInstance,
  issuer: TestIssuer,
  options: { audit?: (event: AuditEvent) => void; redisUrl?: string },
): Promise<void> {
  await app.register(portcullis, {
    tokens: {
      issuers: [
        {
          issuer: issuer.issuer,
          audience: issuer.audience,
          algorithms: ['ES256'],
          jwks: issuer.jwks,
          // RFC 9068 access tokens only: an ID token for this audience is refused.
          typ: 'at+jwt',
        },
      ],
      realm: 'video-platform',
    },
    rateLimit: {
      max: 100,
      timeWindow: '1 minute',
      preAuth: { max: 20, timeWindow: '1 minute' },
      // With REDIS_URL set, every instance of the service shares one count.
      ...(options.redisUrl === undefined ? {} : { redis: options.redisUrl }),
    },
    policies: {
      readVideos: { scopes: ['videos:read'], callers: [CALLERS.search, CALLERS.player] },
    },
    ...(options.audit === undefined ? {} : { audit: options.audit }),
  })
}

// Without the plugin, `config.guard` is inert route config: the unguarded service of the tour.
function routes(app: FastifyInstance, options: { egress?: boolean }): void {
  app.get(
    '/healthz',
    {
      config: {
        guard: { public: 'liveness probe for the orchestrator', response: { allow: ['ok'] } },
      },
    },
    () => ({ ok: true }),
  )

  app.get<{ Querystring: { limit?: string } }>(
    '/v1/videos',
    {
      config: {
        guard: {
          extends: 'readVideos',
          response: { allow: ['[].id', '[].title', '[].durationSec'], maxItems: 50 },
        },
      },
    },
    (req) => videos.slice(0, Math.min(Number(req.query.limit ?? 20), videos.length)),
  )

  app.get<{ Params: { id: string } }>(
    '/v1/videos/:id',
    {
      config: {
        guard: {
          extends: 'readVideos',
          rateLimit: { max: 20, timeWindow: '1 minute' },
          response: {
            allow: ['id', 'title', 'durationSec', 'owner.id', 'tags[]'],
            byScope: { 'videos:read:internal': ['uploadIp', 'moderation.status'] },
          },
        },
      },
    },
    (req, reply) => {
      const video = videos.find((v) => v.id === req.params.id)
      // The whole row, internal fields included: the allowlist decides what leaves.
      return video ?? reply.code(404).send({ type: 'about:blank', title: 'Not found', status: 404 })
    },
  )

  app.get<{ Params: { userId: string } }>(
    '/v1/users/:userId/history',
    {
      config: {
        guard: {
          scopes: ['history:read'],
          callers: [CALLERS.player],
          claims: { sub: { param: 'userId' } },
          response: { allow: ['[].videoId', '[].watchedAt'], maxItems: 100 },
        },
      },
    },
    (req) => history.filter((h) => h.userId === req.params.userId),
  )

  app.get(
    '/internal/moderation/queue',
    {
      config: {
        guard: {
          scopes: ['moderation:read'],
          callers: [CALLERS.moderation],
          response: { allow: ['[].id', '[].title', '[].moderation.status', '[].moderation.notes'] },
        },
      },
    },
    () => videos.filter((v) => v.moderation.status === 'flagged'),
  )

  // The recommendations service reads every user's history: a legitimate caller, with a token
  // that would be worth stealing. Each request is acceptable; what bounds the whole is the
  // budget on what leaves (one balance for both routes) and the limit on distinct users.
  const egress = options.egress !== false
  const viewingHistory = {
    budget: { name: 'viewing-history', unit: 'items', max: 100, timeWindow: '1 hour' },
  } as const
  app.get<{ Querystring: { page?: string } }>(
    '/v1/internal/history',
    {
      config: {
        guard: {
          scopes: ['history:read'],
          callers: [CALLERS.recommendations],
          ...(egress ? viewingHistory : {}),
          response: { allow: ['items[].userId', 'items[].videoId', 'items[].watchedAt'] },
        },
      },
    },
    (req) => {
      const page = Math.max(1, Number(req.query.page ?? 1) || 1)
      return { items: history.slice((page - 1) * HISTORY_PAGE, page * HISTORY_PAGE) }
    },
  )
  app.get<{ Params: { userId: string } }>(
    '/v1/internal/users/:userId/history',
    {
      config: {
        guard: {
          scopes: ['history:read'],
          callers: [CALLERS.recommendations],
          ...(egress
            ? {
                ...viewingHistory,
                enumeration: { param: 'userId', maxDistinct: 5, timeWindow: '1 hour' },
              }
            : {}),
          response: { allow: ['items[].videoId', 'items[].watchedAt'] },
        },
      },
    },
    (req) => ({ items: history.filter((h) => h.userId === req.params.userId) }),
  )

  // Uncomment to see deny by default at work: startup fails with PCL_UNGUARDED_ROUTE,
  // listing GET and HEAD /v1/internal/dump.
  // app.get('/v1/internal/dump', () => videos)
}
