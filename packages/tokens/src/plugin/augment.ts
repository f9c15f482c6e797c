import type { Principal } from '@portcullis/core'
import type { kGuardStart } from './symbols.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The verified caller, set only from a verified access token; `null` when the request
     * carried no token (possible only on public routes and unknown URLs). Frozen.
     */
    principal: Principal | null
    /** @internal */
    [kGuardStart]: number
  }
}
