import type { IncomingHttpHeaders } from 'node:http'
import { redactQueryTokens } from '../query/index.js'

/**
 * What {@link serializeRequest} reads of a request: Fastify's request, or Node's `IncomingMessage`
 * (Express, `pino-http`).
 */
export interface LoggedRequest {
  readonly method?: string | undefined
  readonly url?: string | undefined
  readonly headers?: IncomingHttpHeaders | undefined
  /** Fastify's `request.host`; else the `Host` header. */
  readonly host?: string | undefined
  /** Fastify's `request.ip`; else the socket's address. */
  readonly ip?: string | undefined
  readonly socket?:
    | { readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined }
    | null
    | undefined
}

/** The fields {@link serializeRequest} logs: Fastify's default request fields. */
export interface SerializedRequest {
  method?: string
  url?: string
  version?: string
  host?: string
  remoteAddress?: string
  remotePort?: number
  [key: string]: unknown
}

/**
 * A `req` log serializer: the fields Fastify logs by default (method, URL, `accept-version`,
 * host, remote address and port), with the value of any `access_token` query parameter replaced
 * by `[REDACTED]` ({@link redactQueryTokens}). Fastify logs the URL of every request in its
 * `incoming request` line before any hook runs, so a token a client puts in the query (which the
 * guard then refuses) would otherwise land in the logs.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { serializeRequest } from '@portcullis/fastify'
 *
 * const app = Fastify({ logger: { serializers: { req: serializeRequest } } })
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#query-tokens-and-logs
 */
export function serializeRequest(request: LoggedRequest): SerializedRequest {
  const out: SerializedRequest = {}
  const version = request.headers?.['accept-version']
  const host = request.host ?? request.headers?.host
  const remoteAddress = request.ip ?? request.socket?.remoteAddress
  const remotePort = request.socket?.remotePort
  if (request.method !== undefined) out.method = request.method
  if (request.url !== undefined) out.url = redactQueryTokens(request.url)
  if (typeof version === 'string') out.version = version
  if (host !== undefined) out.host = host
  if (remoteAddress !== undefined) out.remoteAddress = remoteAddress
  if (remotePort !== undefined) out.remotePort = remotePort
  return out
}
