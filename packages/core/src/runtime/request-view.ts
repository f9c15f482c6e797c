import type { AuditLogger } from '../audit.js'
import type { DpopChallenge } from '../errors/index.js'
import type { GuardRequest } from '../guard.js'
import type { Principal } from '../principal.js'
import type { IncomingMessage } from 'node:http'

/**
 * Where the guard writes its own lines: a pino-style logger. `isLevelEnabled` (or `level:
 * 'silent'`) lets the guard skip building events nobody reads.
 */
export interface GuardLogger extends AuditLogger {
  readonly level?: string
  isLevelEnabled?(level: string): boolean
}

/**
 * What the runtime reads of one request and keeps about it while it runs, the same on every
 * framework: each adapter builds one per request (its first hook or guard) and hands it to every
 * step. The principal lives here, where application code cannot write: the adapters copy it to
 * `request.principal`, never the other way round.
 */
export interface RequestView {
  readonly method: string
  /** The route template (`/v1/videos/:id`), or `null` when no route matched. */
  readonly route: string | null
  /** Node's request: headers, the raw header list, the (TLS) socket. */
  readonly message: IncomingMessage
  /** The request target as the client sent it, before any router rewrote it. */
  readonly url: string
  /** The client address as the framework reports it (its proxy trust applied). */
  readonly ip: string | undefined
  /** The framework's request id, when there is one. */
  readonly requestId: string | null
  readonly log: GuardLogger
  /** The framework's request, handed to the application's callbacks (`check`, key functions). */
  readonly native: GuardRequest
  /**
   * Whether the matched route accepts `?access_token=` (`guard.queryToken: true`). Read only when
   * the query carries one; `false` for unknown URLs.
   */
  queryTokenAllowed(): boolean
  /** Whether the matched route accepts only DPoP-bound tokens with a proof (`guard.dpop: true`). */
  dpopRequired(): boolean
  /** Sets a response header now (rate-limit headers); ignored once headers are sent. */
  setHeader(name: string, value: string | number): void
  /** When the guard first saw the request (`performance.now()`), for audit latency. */
  readonly start: number
  /** The verified principal: set only by the authentication step. */
  principal: Principal | null
  /** True once credentials were read and verified: a second guard on the request reuses them. */
  authenticated: boolean
  /**
   * The DPoP challenge (RFC 9449 §7.1) for refusals after authentication, when the request used
   * DPoP or its route requires it; `undefined` keeps the plain Bearer challenge.
   */
  dpop: DpopChallenge | undefined
}
