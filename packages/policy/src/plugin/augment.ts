import type { RouteGuard } from '@portcullis/core'
import type { PortcullisApi } from '../inventory/index.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * What this route requires. Every route declares one: `{ public: '<reason>' }` or at least
     * one requirement; a route without it fails `app.ready()` (`PCL_UNGUARDED_ROUTE`).
     */
    guard?: RouteGuard
  }
  interface FastifyInstance {
    /** Portcullis: the route inventory and, later, other runtime views. */
    portcullis: PortcullisApi
  }
}

declare module '@portcullis/core' {
  interface RouteGuard {
    /** Any verified token, nothing more. */
    authenticated?: true
  }
}
