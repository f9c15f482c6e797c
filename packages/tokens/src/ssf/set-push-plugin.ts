import type { DeclaredGuard } from '@portcullis/core'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { pushed, readSetBody } from './set-push-handler.js'
import type { SetReceiver } from './set-receiver.js'

/** The parsed body of a push longer than `maxSetBytes`. */
const TOO_LARGE = Symbol('portcullis.set.tooLarge')

/** Options of {@link setPushPlugin}. */
export interface SetPushPluginOptions {
  /** The receiver that verifies and applies the SETs ({@link createSetReceiver}). */
  receiver: SetReceiver
  /** The path the transmitter pushes to. Default `'/ssf/events'`. */
  url?: string
  /**
   * The route's guard, as for any route: who may push (`callers`, `scopes`), and, with the
   * allowlist plugin, `response` and `body` (see the guide). Required: the endpoint changes who
   * can sign in, so it is never public by default.
   */
  guard: DeclaredGuard
}

/**
 * The RFC 8935 push endpoint for Fastify: a `POST` route taking `application/secevent+jwt`,
 * guarded by `guard`, answering what the receiver decided (202, or 400 with
 * `{ "err", "description" }`). Register it without `fastify-plugin`, so that its body parser stays
 * on its route.
 *
 * @example
 * ```ts
 * await app.register(setPushPlugin, {
 *   receiver,
 *   url: '/ssf/events',
 *   guard: { callers: ['idp'], response: { allow: ['err', 'description'] },
 *            body: { passthrough: 'a SET, verified by the receiver' } },
 * })
 * ```
 * @see https://github.com/portcullis-dev/portcullis/blob/main/docs/guides/tokens.md#security-event-tokens
 */
export function setPushPlugin(
  app: FastifyInstance,
  options: SetPushPluginOptions,
  done: (err?: Error) => void,
): void {
  const { receiver, url = '/ssf/events', guard } = options
  if (typeof receiver?.push !== 'function') {
    done(new TypeError('setPushPlugin: receiver must come from createSetReceiver'))
    return
  }
  // On this route only (the plugin is encapsulated): every body is read as bytes, at most
  // maxSetBytes, so that a wrong content type or an oversized SET is answered by the receiver in
  // RFC 8935 terms (as on Express), not by Fastify's parsers.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', function portcullisSetBody(request: FastifyRequest, payload, done) {
    readSetBody(payload, receiver.maxSetBytes).then(
      (body) => done(null, body ?? TOO_LARGE),
      (err: unknown) => done(err instanceof Error ? err : new Error(String(err)), undefined),
    )
  })
  app.post(
    url,
    { config: { guard } },
    async function portcullisSetPush(request: FastifyRequest, reply: FastifyReply) {
      const { body } = request
      const answer = await pushed(
        receiver,
        body === TOO_LARGE ? undefined : Buffer.isBuffer(body) ? body : Buffer.alloc(0),
        request.headers['content-type'],
      )
      void reply.code(answer.status).headers(answer.headers)
      return answer.body === '' ? reply.send() : reply.send(answer.body)
    },
  )
  done()
}
