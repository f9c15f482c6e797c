import { errorProblem, writeProblem, type DecisionContext } from '@portcullis/core/internal'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

type FrameworkErrors = (error: Error, request: FastifyRequest, reply: FastifyReply) => void

/**
 * The options object Fastify keeps for an instance (a private symbol, `fastify.options`, on the
 * root instance, which child contexts inherit): Fastify reads `frameworkErrors` from it each time
 * its router refuses a URL. `undefined` when this Fastify keeps it elsewhere.
 */
function fastifyOptions(fastify: FastifyInstance): Record<string, unknown> | undefined {
  for (let at: object | null = fastify; at !== null; at = Object.getPrototypeOf(at) as object) {
    const key = Object.getOwnPropertySymbols(at).find((s) => s.description === 'fastify.options')
    if (key !== undefined) return (at as Record<symbol, Record<string, unknown>>)[key]
  }
  return undefined
}

/** Fastify reads `frameworkErrors` from its options on each call since 5.6.2 (before: once). */
function readsFrameworkErrorsLate(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version
    .split('.')
    .map((part) => Number.parseInt(part, 10))
  if (major !== 5) return major > 5
  return minor > 6 || (minor === 6 && patch >= 2)
}

/**
 * Fastify's router answers a URL with invalid percent-encoding (400) and a route parameter
 * longer than `maxParamLength` (414) before any hook runs, with a JSON body that echoes the URL.
 * Unless the application handles them itself (Fastify's `frameworkErrors` option), they are
 * answered as every other error: problem+json, `PCL_MALFORMED_REQUEST` and `PCL_URI_TOO_LONG`.
 */
export function answerFrameworkErrors(fastify: FastifyInstance, context: DecisionContext): void {
  const options = fastifyOptions(fastify)
  if (options !== undefined && typeof options.frameworkErrors === 'function') return
  if (!readsFrameworkErrorsLate(fastify.version)) {
    fastify.log.warn(
      `portcullis: Fastify ${fastify.version} reads its frameworkErrors option only when the app is created, so its 400 and 414 answers for malformed URLs stay Fastify's JSON (which echoes the URL): upgrade to Fastify 5.6.2 or later, or pass frameworkErrors to Fastify()`,
    )
    return
  }
  if (options === undefined) {
    fastify.log.warn(
      'portcullis: this Fastify keeps its options where Portcullis cannot find them; its 400 and 414 answers for malformed URLs are not problem+json (set the frameworkErrors option)',
    )
    return
  }
  const frameworkErrors: FrameworkErrors = function portcullisFrameworkErrors(error, _req, reply) {
    reply.hijack()
    writeProblem(reply.raw, errorProblem(error, context, reply.log))
  }
  options.frameworkErrors = frameworkErrors
}
