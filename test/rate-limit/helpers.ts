import type { AuditEvent } from '@portcullis/core'
import { policyPlugin, type PolicyPluginOptions } from '@portcullis/policy'
import {
  createPreAuthLimiter,
  rateLimitPlugin,
  type PreAuthOptions,
  type RateLimitPluginOptions,
} from '@portcullis/rate-limit'
import { bearer, createTestIssuer, type TestIssuer } from '@portcullis/testing'
import { tokensPlugin } from '@portcullis/tokens'
import Fastify, {
  type FastifyInstance,
  type FastifyServerOptions,
  type LightMyRequestResponse,
} from 'fastify'

/** An app with the three plugins registered in the umbrella's order, and what tests inspect. */
export interface LimitedApp {
  app: FastifyInstance
  issuer: TestIssuer
  events: AuditEvent[]
  logs: string[]
  /** Times any handler ran. */
  runs: () => number
  /** Counts one handler run; call it in handlers. */
  ran: () => void
  /** Injects a request, with a fresh token for `claims` unless `claims` is `null`. */
  call(
    url: string,
    claims: Record<string, unknown> | null,
    extra?: {
      method?: 'GET' | 'HEAD' | 'POST'
      ip?: string
      headers?: Record<string, string>
      /** Mints with this issuer instead of the app's first one. */
      issuer?: TestIssuer
    },
  ): Promise<LightMyRequestResponse>
}

let shared: Promise<TestIssuer> | undefined

/** One issuer for the whole file: key generation is the slow part of a test. */
export function testIssuer(): Promise<TestIssuer> {
  shared ??= createTestIssuer({ issuer: 'https://auth.test', audience: 'videos-api' })
  return shared
}

/**
 * Builds an app: tokens, policy, then rate limit (default 3 per minute by principal), then the
 * routes. `between` declares routes after the policy plugin but before the rate-limit plugin.
 */
export async function limitedApp(
  routes: (app: FastifyInstance, ran: () => void) => void | Promise<void>,
  options: {
    rateLimit?: Partial<RateLimitPluginOptions>
    preAuth?: PreAuthOptions
    policy?: PolicyPluginOptions
    fastify?: FastifyServerOptions
    between?: (app: FastifyInstance) => void
    issuer?: TestIssuer
    /** More trusted issuers, beside the first. */
    others?: TestIssuer[]
  } = {},
): Promise<LimitedApp> {
  const issuer = options.issuer ?? (await testIssuer())
  const logs: string[] = []
  const events: AuditEvent[] = []
  let runs = 0
  const audit = (event: AuditEvent): void => void events.push(event)
  const app = Fastify({
    logger: { level: 'info', stream: { write: (line: string) => void logs.push(line) } },
    ...options.fastify,
  })
  await app.register(tokensPlugin, {
    issuers: [issuer, ...(options.others ?? [])].map((trusted) => ({
      issuer: trusted.issuer,
      audience: trusted.audience,
      algorithms: ['ES256'],
      jwks: trusted.jwks,
    })),
    realm: 'test',
    audit,
    ...(options.preAuth === undefined ? {} : { preAuth: createPreAuthLimiter(options.preAuth) }),
  })
  await app.register(policyPlugin, { realm: 'test', audit, ...options.policy })
  options.between?.(app)
  await app.register(rateLimitPlugin, {
    max: 3,
    timeWindow: '1 minute',
    realm: 'test',
    audit,
    ...options.rateLimit,
  })
  const ran = (): void => void runs++
  await routes(app, ran)
  const tokens = new Map<string, string>()
  return {
    app,
    issuer,
    events,
    logs,
    runs: () => runs,
    ran,
    async call(url, claims, extra = {}) {
      const headers: Record<string, string> = { ...extra.headers }
      if (claims !== null) {
        // Reuse one token per set of claims: the verified-token cache keeps the tests fast.
        const minter = extra.issuer ?? issuer
        const id = `${minter.issuer} ${JSON.stringify(claims)}`
        let token = tokens.get(id)
        if (token === undefined) {
          token = await minter.token(claims)
          tokens.set(id, token)
        }
        Object.assign(headers, bearer(token))
      }
      return app.inject({
        method: extra.method ?? 'GET',
        url,
        headers,
        ...(extra.ip === undefined ? {} : { remoteAddress: extra.ip }),
      })
    },
  }
}

/** Status codes of `n` sequential calls. */
export async function statuses(
  n: number,
  call: () => ReturnType<LimitedApp['call']>,
): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push((await call()).statusCode)
  return out
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
