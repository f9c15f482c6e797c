import type { RuntimeOptions } from '@portcullis/runtime'

/**
 * Options of {@link createGuard}: the guard's options (`GuardOptions`, those of
 * `@portcullis/fastify`, validated by the same schemas), and `logger`, Express having no logger
 * of its own (default: the console, warnings and errors only). `unguardedRoutes` has no Express
 * counterpart: `seal` always refuses an unguarded route.
 *
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/express.md#options
 */
export type PortcullisExpressOptions = RuntimeOptions
