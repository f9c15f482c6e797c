import type { Application } from 'express'

/** True when `value` looks like an Express application (what `app.use` itself checks). */
export function isExpressApp(value: unknown): value is Application {
  if (typeof value !== 'function') return false
  const app = value as unknown as Record<string, unknown>
  return typeof app.handle === 'function' && typeof app.set === 'function' && 'router' in app
}

/**
 * The Express app behind a `mounted_app` layer (`app.use('/admin', adminApp)`), or `null`.
 *
 * Express keeps a mounted app only in the closure of that layer's handle. The handle is called
 * with a request that has no URL: the mounted app sets its request prototype (which holds the
 * app) and hands the request to its router, which finds no path to match and returns without
 * running a single layer. The prototype is read the moment the router takes the request.
 * Anything unexpected yields `null`, and `seal` then refuses the mount rather than trust it.
 */
export function mountedApp(handle: (...args: unknown[]) => unknown): Application | null {
  let found: unknown = null
  let next: unknown
  const request: Record<string, unknown> = {
    url: undefined,
    method: undefined,
    headers: {},
    // What the mounted app restores when it hands the request back to its parent.
    app: { request: {}, response: {} },
  }
  // The router sets `req.next` once the mounted app has set the request prototype.
  Object.defineProperty(request, 'next', {
    configurable: true,
    get: () => next,
    set(value: unknown) {
      next = value
      found ??= (Object.getPrototypeOf(request) as { app?: unknown } | null)?.app ?? null
    },
  })
  const response = { locals: {}, setHeader: () => undefined, getHeader: () => undefined }
  try {
    handle(request, response, () => undefined)
  } catch {
    return null
  }
  return isExpressApp(found) ? found : null
}
