import { scopesInUse } from '@portcullis/policy/internal'
import {
  RESOURCE_METADATA_REASON,
  type ResolvedResourceMetadata,
} from '@portcullis/tokens/internal'
import type { ResourceMetadataDocument } from '@portcullis/tokens'
import type { FastifyInstance } from 'fastify'

/**
 * Serves the RFC 9728 metadata at its well-known path, as a public route with an allowlist like
 * any other (it shows in the inventory). The document is built on the first request, once every
 * route is known (the scopes in use, `guard.queryToken`).
 */
export function serveResourceMetadata(
  fastify: FastifyInstance,
  metadata: ResolvedResourceMetadata,
): void {
  let queryToken = false
  fastify.addHook('onRoute', function portcullisQueryTokenRoutes(route) {
    const guard = (route.config as { guard?: { queryToken?: unknown } } | undefined)?.guard
    if (guard?.queryToken === true) queryToken = true
  })
  let document: ResourceMetadataDocument | undefined
  fastify.get(
    metadata.path,
    {
      config: {
        guard: { public: RESOURCE_METADATA_REASON, response: { allow: [...metadata.fields] } },
      },
    },
    function portcullisResourceMetadata(_request, reply) {
      document ??= metadata.document({
        scopes: scopesInUse(fastify.portcullis.routes()),
        queryToken,
      })
      // RFC 9728 §3.2: a JSON document; clients may cache it.
      void reply.header('cache-control', 'public, max-age=3600')
      return document
    },
  )
}
