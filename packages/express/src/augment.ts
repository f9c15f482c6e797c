import type { Principal } from '@portcullis/core'
import type { Request } from 'express'

declare global {
  // Express types its request through this global namespace (express-serve-static-core).
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * The verified caller, set by a guard only from a verified access token; `null` when the
       * request carried no token (possible only on public routes). Frozen.
       */
      principal: Principal | null
    }
  }
}

/**
 * A request on a route whose guard requires a token: past the guard, `principal` is set.
 *
 * @example
 * ```ts
 * const { principal } = req as AuthenticatedRequest
 * ```
 */
export type AuthenticatedRequest = Request & { readonly principal: Principal }
