import portcullis, {
  type AuditEvent,
  type PortcullisOptions,
  type TokensOptions,
} from '@portcullis/fastify'
import { createTestIssuer, type TestIssuer } from '@portcullis/testing'
import Fastify, { type FastifyInstance } from 'fastify'

/** A Fastify app with Portcullis over an in-process test issuer, and what the tests inspect. */
export interface GuardedApp {
  app: FastifyInstance
  issuer: TestIssuer
  events: AuditEvent[]
  logs: string[]
}

/**
 * Builds an app: `before` runs before Portcullis is registered, `routes` after it.
 * Logs are captured (as JSON lines) so tests can assert that tokens never reach them.
 */
export async function guardedApp(
  routes: (app: FastifyInstance) => void | Promise<void>,
  options: {
    before?: (app: FastifyInstance) => void | Promise<void>
    portcullis?: Partial<PortcullisOptions>
    issuer?: TestIssuer
    audit?: boolean
  } = {},
): Promise<GuardedApp> {
  const issuer = options.issuer ?? (await createTestIssuer())
  const logs: string[] = []
  const app = Fastify({
    logger: {
      level: 'info',
      stream: { write: (line: string) => void logs.push(line) },
    },
  })
  const events: AuditEvent[] = []
  await options.before?.(app)
  await app.register(portcullis, {
    tokens: trustedTokens(issuer),
    ...(options.audit === false ? {} : { audit: (event: AuditEvent) => void events.push(event) }),
    // These suites are about access; response allowlists have their own (test/allowlist).
    response: { requireResponse: false },
    ...options.portcullis,
  })
  await routes(app)
  return { app, issuer, events, logs }
}

/** Tokens options trusting `issuer` (ES256, its JWKS as an object), with realm "test". */
export function trustedTokens(issuer: TestIssuer): TokensOptions {
  return {
    issuers: [
      {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ['ES256'],
        jwks: issuer.jwks,
      },
    ],
    realm: 'test',
  }
}

/** Resolves with the error `app.ready()` rejects with (fails the test when it does not). */
export async function readyError(app: FastifyInstance): Promise<Error & Record<string, unknown>> {
  try {
    await app.ready()
  } catch (err) {
    return err as Error & Record<string, unknown>
  }
  throw new Error('expected app.ready() to reject')
}
