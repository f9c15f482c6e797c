import type { GuardOptions } from '@portcullis/core'
import type {} from '@portcullis/allowlist'
import type {} from '@portcullis/policy'
import type {} from '@portcullis/rate-limit'
import type {} from '@portcullis/tokens'
import type { GuardLogger } from '../lib/logger.js'

/**
 * Options of {@link createGuard}: the guard's options (`GuardOptions`, those of
 * `@portcullis/fastify`, validated by the same schemas), and `logger`, Express having no logger
 * of its own. `unguardedRoutes` has no Express counterpart: `seal` always refuses an unguarded
 * route.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/express.md#options
 */
export interface PortcullisExpressOptions extends GuardOptions {
  /**
   * A pino-style logger (`pino()`, or `pino-http`'s) for the guard's lines: decisions when there
   * is no `audit` sink (allow at `info`, deny at `warn`), outages and unexpected errors. Default:
   * the console, warnings and errors only.
   */
  logger?: GuardLogger
}
