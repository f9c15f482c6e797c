import type { Application } from 'express'
import { guardHandleOf, type ExpressSite, type GuardHandle } from '../guard/guard-middleware.js'
import { isBodyParser, passThroughReason } from '../lib/symbols.js'
import { isExpressApp, mountedApp } from './mounted-app.js'

// The parts of Express 5's router (the `router` package) the walk reads. `rawPath` holds the
// declared path since router 2.3; before it, `path` does until the first request matches.
interface Layer {
  readonly handle: ((...args: never[]) => unknown) & {
    readonly stack?: unknown
    readonly mergeParams?: unknown
  }
  readonly route?: Route
  readonly rawPath?: unknown
  readonly path?: unknown
  readonly name?: string
  readonly method?: string
}

interface Route {
  readonly path: unknown
  readonly stack: readonly Layer[]
  readonly methods: Readonly<Record<string, unknown>>
}

interface Router {
  readonly stack: Layer[]
  readonly mergeParams?: unknown
  /** `router.param(name, fn)` / `app.param(name, fn)` callbacks, by parameter name. */
  readonly params?: Readonly<Record<string, readonly unknown[]>>
}

/** What `seal` found in an app. */
export interface Walked {
  /** Every guard with the route or mount it stands first on. */
  readonly guards: { readonly handle: GuardHandle; readonly site: ExpressSite }[]
  /** `METHOD /path` of every route no guard protects, with why when it helps. */
  readonly unguarded: string[]
  /** Every router and route stack walked, to refuse routes declared after `seal`. */
  readonly stacks: Layer[][]
  /** Every router walked, to refuse `param` callbacks declared after `seal`. */
  readonly routers: object[]
  /** The app and every mounted app, whose request prototypes get `principal: null`. */
  readonly apps: Application[]
}

interface Mount {
  /** The path so far, without a trailing slash (`''` at the root). */
  readonly prefix: string
  /** Parameters of the mount paths visible in `req.params` (with `mergeParams`). */
  readonly params: readonly string[]
  /** True when a guard mounted with `use` stands in front of everything below this mount. */
  readonly guarded: boolean
}

/** True for middleware known to pass every request on: a body parser, or one the app declared. */
function passesOn(handle: Layer['handle']): boolean {
  return isBodyParser(handle) || passThroughReason(handle) !== undefined
}

/** True when a guard mounted with `use` at `guard` runs before a middleware mounted at `path`. */
function covers(guard: string, path: string): boolean {
  return (
    guard === '/' || path === guard || path.startsWith(guard.endsWith('/') ? guard : `${guard}/`)
  )
}

function isRouter(handle: Layer['handle']): boolean {
  return Array.isArray(handle.stack)
}

function pathsOf(value: unknown): string[] {
  const list = Array.isArray(value) ? (value.flat(Infinity) as unknown[]) : [value]
  return list.map((path) =>
    path instanceof RegExp ? String(path) : typeof path === 'string' ? path : '/',
  )
}

function layerPaths(layer: Layer): string[] {
  return pathsOf(layer.rawPath !== undefined ? layer.rawPath : (layer.path ?? '/'))
}

function join(prefix: string, path: string): string {
  if (prefix === '') return path
  if (path === '/' || path === '') return `${prefix}/`
  return path.startsWith('/') ? `${prefix}${path}` : `${prefix}/${path}`
}

function under(mount: Mount, path: string, params: readonly string[], guarded: boolean): Mount {
  const prefix = path === '/' ? mount.prefix : join(mount.prefix, path).replace(/\/$/u, '')
  return { prefix, params, guarded: mount.guarded || guarded }
}

/**
 * Parameter names of an Express 5 path (path-to-regexp 8): `:name`, `*name` and their quoted
 * forms (`:"name"`); named groups of a RegExp path.
 */
export function pathParams(path: string): string[] {
  // A RegExp path (as `String(regexp)`): Express 5 string paths cannot hold a group.
  if (path.includes('(?<')) {
    return [...path.matchAll(/\(\?<([A-Za-z_$][\w$]*)>/gu)].map((m) => m[1]!)
  }
  return [...path.matchAll(/[:*](?:([A-Za-z_$][\w$]*)|"((?:[^"\\]|\\.)*)")/gu)].map(
    (m) => m[1] ?? m[2]!,
  )
}

// For each method a route serves, the layers that run for it, in order: `.all()` layers and the
// method's own (a GET route serves HEAD too, unless it has its own HEAD).
function methodStacks(route: Route): [string, Layer[]][] {
  const out: [string, Layer[]][] = []
  for (const name of Object.keys(route.methods)) {
    if (name === '_all') {
      out.push(['ALL', route.stack.filter((layer) => layer.method === undefined)])
      continue
    }
    const layers = route.stack.filter(
      (layer) => layer.method === undefined || layer.method === name,
    )
    out.push([name.toUpperCase(), layers])
    if (name === 'get' && route.methods.head === undefined) out.push(['HEAD', layers])
  }
  return out
}

function walkRoute(route: Route, mount: Mount, walked: Walked): void {
  walked.stacks.push(route.stack as Layer[])
  const paths = pathsOf(route.path)
  const templates = paths.map((path) => join(mount.prefix, path))
  const params = [...new Set([...mount.params, ...paths.flatMap(pathParams)])]
  // One binding per guard and route, whatever the number of methods it stands first for.
  const sites = new Map<GuardHandle, string[]>()
  for (const [method, layers] of methodStacks(route)) {
    const first = guardHandleOf(layers[0]?.handle)
    if (first !== undefined) {
      sites.set(first, [...(sites.get(first) ?? []), method])
      continue
    }
    const late = layers.some((layer) => guardHandleOf(layer.handle) !== undefined)
    for (const template of templates) {
      walked.unguarded.push(
        `${method} ${template}${late ? ' (its guard comes after a handler: put it first)' : ''}`,
      )
    }
  }
  for (const [handle, methods] of sites) {
    const template = templates[0] ?? '/'
    walked.guards.push({
      handle,
      site: {
        label: `${methods.join(',')} ${templates.join(' | ')}`,
        template,
        methods,
        params,
        route,
      },
    })
  }
}

function walkRouter(router: Router, mount: Mount, walked: Walked, walking: Set<object>): void {
  // A router mounted twice is walked twice (its routes have two paths); one mounted inside
  // itself is not walked forever.
  if (walking.has(router)) return
  walking.add(router)
  walked.stacks.push(router.stack)
  walked.routers.push(router)
  // Param callbacks run when a route matches, before its first handler, so before its guard: an
  // anonymous request would make the app load the object (a database read, an existence oracle).
  for (const [name, callbacks] of Object.entries(router.params ?? {})) {
    if (callbacks.length === 0) continue
    walked.unguarded.push(
      `PARAM :${name} at ${mount.prefix || '/'} (app.param callbacks run before the guard: load the object in the handler, or in a middleware after guard(...))`,
    )
  }
  // Paths a guard mounted with `use` stands in front of, for the middleware after it.
  const covered: string[] = []
  const isCovered = (path: string) => mount.guarded || covered.some((g) => covers(g, path))
  for (const layer of router.stack) {
    if (layer.route !== undefined) {
      walkRoute(layer.route, mount, walked)
      continue
    }
    const handle = layer.handle
    for (const path of layerPaths(layer)) {
      const template = path === '/' ? mount.prefix || '/' : join(mount.prefix, path)
      const guard = guardHandleOf(handle)
      if (guard !== undefined) {
        covered.push(path)
        walked.guards.push({
          handle: guard,
          site: {
            label: `USE ${template}`,
            template,
            methods: ['USE'],
            params: [...mount.params, ...pathParams(path)],
            route: null,
          },
        })
        continue
      }
      if (isRouter(handle)) {
        const merge = handle.mergeParams === true
        const params = merge ? [...mount.params, ...pathParams(path)] : []
        const inside = under(mount, path, params, isCovered(path))
        walkRouter(handle as unknown as Router, inside, walked, walking)
        continue
      }
      if (handle.name === 'mounted_app') {
        const app = mountedApp(handle as (...args: unknown[]) => unknown)
        if (app === null) {
          walked.unguarded.push(`USE ${template} (a mounted app portcullis cannot inspect)`)
          continue
        }
        walked.apps.push(app)
        const inside = under(mount, path, [], isCovered(path))
        walkRouter(app.router as unknown as Router, inside, walked, walking)
        continue
      }
      // Middleware that may answer requests must stand behind a guard, like a route. Error
      // handlers (four parameters) are held at run time with the responses of the request
      // they handle.
      if (isCovered(path) || passesOn(handle) || handle.length > 3) continue
      const name = handle.name === 'serveStatic' ? 'express.static' : handle.name || 'anonymous'
      walked.unguarded.push(
        `USE ${template} (middleware ${name} could answer before any guard: put guard(...) in front of it, or declare it with guard.passThrough(fn, '<reason>') if it only passes requests on)`,
      )
    }
  }
  walking.delete(router)
}

/** Walks an app's router, nested routers and mounted apps included. */
export function walkApp(app: Application): Walked {
  if (!isExpressApp(app)) throw new TypeError('not an Express application')
  const walked: Walked = { guards: [], unguarded: [], stacks: [], routers: [], apps: [app] }
  walkRouter(
    app.router as unknown as Router,
    { prefix: '', params: [], guarded: false },
    walked,
    new Set(),
  )
  return walked
}
