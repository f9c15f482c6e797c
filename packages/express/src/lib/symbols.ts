import { PortcullisConfigError } from '@portcullis/core'

/** The brand of a guard middleware, holding what `seal` needs to bind it to its routes. */
export const kGuardHandle = Symbol.for('portcullis.express.guard')

/** Marks an app `seal` has sealed. */
export const kSealed = Symbol.for('portcullis.express.sealed')

// Express's own body parsers (body-parser: express.json(), urlencoded(), text(), raw()): they
// read the body and pass the request on, or hand an error to the error handlers; they never
// answer. A body on the wire may reach them unparsed, and nothing else.
const PARSERS: ReadonlySet<string> = new Set([
  'jsonParser',
  'urlencodedParser',
  'textParser',
  'rawParser',
])

/** True for one of Express's own body parsers. */
export function isBodyParser(fn: { readonly name: string }): boolean {
  return PARSERS.has(fn.name)
}

/** Marks middleware the application declared as passing every request on, with its reason. */
const kPassThrough = Symbol.for('portcullis.express.passThrough')

/** Declares a middleware as passing every request on (`guard.passThrough`); returns it. */
export function passThrough<T extends (...args: never[]) => unknown>(
  middleware: T,
  reason: string,
): T {
  if (typeof middleware !== 'function') {
    throw new PortcullisConfigError(
      'PCL_INVALID_OPTIONS',
      'guard.passThrough(fn, reason): fn must be a middleware function',
      { field: 'passThrough' },
    )
  }
  if (typeof reason !== 'string' || reason.trim() === '') {
    throw new PortcullisConfigError(
      'PCL_INVALID_OPTIONS',
      `guard.passThrough(${middleware.name || 'fn'}, reason): say why this middleware never answers a request (a non-empty reason)`,
      { field: 'passThrough' },
    )
  }
  Object.defineProperty(middleware, kPassThrough, { value: reason, configurable: true })
  return middleware
}

/** The reason a middleware was declared to pass requests on, or `undefined`. */
export function passThroughReason(fn: unknown): string | undefined {
  return typeof fn === 'function' ? (fn as { [kPassThrough]?: string })[kPassThrough] : undefined
}
