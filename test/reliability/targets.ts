import type { AuditEvent, RouteGuard } from '@portcullis/core'
import type { GuardLogger } from '@portcullis/express'
import type { PortcullisOptions } from '@portcullis/fastify'
import type { TestIssuer } from '@portcullis/testing'
import type { FastifyRequest } from 'fastify'
import { guardedExpress } from '../express/helpers.js'
import { guardedApp } from '../helpers.js'
import type { Endpoint } from './load.js'

// One app, guarded the same way, on either adapter: the reliability scenarios run against
// both, with the same options, routes, audit capture, log capture and load driver.

export const ADAPTERS = ['fastify', 'express'] as const
export type Adapter = (typeof ADAPTERS)[number]

/** The options both adapters take, under the same names and with the same meaning. */
export type SharedOptions = Omit<PortcullisOptions, 'tokens' | 'unguardedRoutes'>

/** A route answering `{ id, subject }`: the `:id` parameter and the principal's subject. */
export interface TargetRoute {
  path: string
  guard: RouteGuard
}

/** A guarded app on one adapter, and what the tests inspect. */
export interface Target {
  adapter: Adapter
  /** Where `load` and `shoot` send requests: the Fastify app itself, or Express's base URL. */
  endpoint: Endpoint
  issuer: TestIssuer
  events: AuditEvent[]
  /** Every line the guard logged, as JSON with `time` (epoch ms), on both adapters. */
  logs: string[]
  /** How many times a route handler ran. */
  runs(): number
  close(): Promise<void>
}

function errorFields(_key: string, value: unknown): unknown {
  return value instanceof Error ? { message: value.message, stack: value.stack } : value
}

/** A logger keeping every line as JSON with pino's `time` and `msg`, as Fastify's logs are. */
function timedLogger(lines: string[]): GuardLogger {
  const write =
    (level: string) =>
    (fields: object, msg: string): void =>
      void lines.push(JSON.stringify({ level, time: Date.now(), msg, ...fields }, errorFields))
  return { info: write('info'), warn: write('warn'), error: write('error') }
}

/**
 * Builds and starts an app on `adapter` with `routes` and `portcullis` options, audit events
 * captured. Fastify is answered in process (`inject`); Express listens on 127.0.0.1 (port 0)
 * and is sealed. Resolves once the app is ready (Redis connected, or 2 seconds).
 */
export async function guardedTarget(
  adapter: Adapter,
  routes: readonly TargetRoute[],
  portcullis: SharedOptions = {},
): Promise<Target> {
  let runs = 0
  const answer = (id: string, subject: string | undefined) => {
    runs++
    return { id, subject }
  }
  if (adapter === 'fastify') {
    const h = await guardedApp(
      (app) => {
        for (const { path, guard } of routes) {
          app.get(path, { config: { guard } }, (req: FastifyRequest) =>
            answer((req.params as { id: string }).id, req.principal?.subject),
          )
        }
      },
      { portcullis },
    )
    try {
      await h.app.ready()
    } catch (err) {
      await h.app.close()
      throw err
    }
    return {
      adapter,
      endpoint: h.app,
      issuer: h.issuer,
      events: h.events,
      logs: h.logs,
      runs: () => runs,
      close: () => h.app.close(),
    }
  }
  const logs: string[] = []
  const h = await guardedExpress(
    (app, guard) => {
      for (const { path, guard: routeGuard } of routes) {
        app.get(path, guard(routeGuard), (req, res) => {
          res.json(answer(String(req.params.id), req.principal?.subject))
        })
      }
    },
    { portcullis: { ...portcullis, logger: timedLogger(logs) } },
  )
  try {
    await h.guard.ready()
  } catch (err) {
    await h.close()
    throw err
  }
  return {
    adapter,
    endpoint: h.base,
    issuer: h.issuer,
    events: h.events,
    logs,
    runs: () => runs,
    close: () => h.close(),
  }
}
