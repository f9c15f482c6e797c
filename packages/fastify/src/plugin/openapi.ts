import type { InventoryEntry } from '@portcullis/policy'
import { applyGuards, type OpenApiDocument, type OpenApiOptions } from '@portcullis/policy/internal'
import type { FastifyInstance, RouteOptions } from 'fastify'

/**
 * The route a generated operation came from: `@fastify/swagger` copies every `x-` key of a
 * route's schema into its operation, so a mark set on the schema after the routes are compiled
 * (Fastify compiled it already: nothing changes for requests) finds its way back.
 */
const MARK = 'x-portcullis-route'

type Swagger = (this: unknown, opts?: { yaml?: boolean }) => unknown

function constraintsKey(constraints: unknown): string {
  return constraints !== null &&
    typeof constraints === 'object' &&
    Object.keys(constraints).length > 0
    ? JSON.stringify(constraints)
    : ''
}

/**
 * With `@fastify/swagger` registered (before or after Portcullis, in this context or a parent),
 * writes each route's guard into its operation of the generated document: security requirement,
 * problem+json responses, and the allowlist as the 200 schema when asked. `app.swagger()` is
 * wrapped once every plugin is loaded (`onReady`); the document is written on its first call.
 */
export function documentGuards(fastify: FastifyInstance, options: OpenApiOptions): void {
  const routes: RouteOptions[] = []
  fastify.addHook('onRoute', function portcullisOpenApiRoutes(route) {
    routes.push(route)
  })
  fastify.addHook('onReady', function portcullisOpenApi(done) {
    const target = fastify as unknown as { swagger?: Swagger }
    const original = target.swagger
    if (!fastify.hasPlugin('@fastify/swagger') || typeof original !== 'function') {
      done()
      return
    }
    routes.forEach((route, index) => {
      route.schema = { ...route.schema, [MARK]: index } as NonNullable<RouteOptions['schema']>
    })
    const written = new WeakSet<object>()
    const write = (document: OpenApiDocument): void => {
      const rows = new Map<string, InventoryEntry>()
      for (const entry of fastify.portcullis.routes()) {
        rows.set(`${entry.method} ${entry.url} ${constraintsKey(entry.constraints)}`, entry)
      }
      applyGuards(
        document,
        (_path, method, operation) => {
          const index = operation[MARK]
          delete operation[MARK]
          const route = typeof index === 'number' ? routes[index] : undefined
          if (route === undefined) return null
          const entry = rows.get(
            `${method.toUpperCase()} ${route.url} ${constraintsKey(route.constraints)}`,
          )
          if (entry === undefined) return null
          const schema = route.schema as { response?: unknown }
          return { entry, hasResponseSchema: schema.response !== undefined }
        },
        options,
      )
    }
    target.swagger = function portcullisSwagger(this: unknown, opts?: { yaml?: boolean }): unknown {
      // The YAML text of @fastify/swagger is built apart from its object: the written object is
      // sent as JSON text instead, which every YAML 1.2 parser reads.
      if (opts?.yaml === true) return JSON.stringify(portcullisSwagger.call(this), null, 2)
      const document = original.call(this, opts)
      if (document !== null && typeof document === 'object' && !written.has(document)) {
        write(document as OpenApiDocument)
        written.add(document)
      }
      return document
    }
    done()
  })
}
