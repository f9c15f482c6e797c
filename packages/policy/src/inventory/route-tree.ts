/** One route as Fastify's router prints it. */
export interface PrintedRoute {
  readonly methods: readonly string[]
  readonly url: string
  /** Constraints as printed (`{"version":"1.0.0"}`), or `''`. */
  readonly constraints: string
  /** Names of the route's `onRequest` hooks, as the router prints them. */
  readonly onRequest: readonly string[]
  /** Names of the route's `onError` hooks (where Portcullis marks the routes it compiled). */
  readonly onError: readonly string[]
  /** Names of the route's `preValidation` hooks (where the request body is checked). */
  readonly preValidation: readonly string[]
  /** Names of the route's `onSend` hooks (where the serialized body is recorded and checked). */
  readonly onSend: readonly string[]
}

type HookName = 'onRequest' | 'onError' | 'preValidation' | 'onSend'

const BRANCH = /(?:├── |└── )/u
const NODE = /^(.*) \(([A-Z]+(?:, [A-Z]+)*)\)(?: (\{.*\}))?$/u
const META = /^• \((onRequest|onError|preValidation|onSend)\) (.*)$/u

/**
 * Parses `fastify.printRoutes({ commonPrefix: false, includeMeta: ['onRequest', 'onError'] })`.
 *
 * Fastify offers no public list of its routes; its printed tree is the only view that includes
 * routes declared before Portcullis was loaded (which no `onRoute` hook sees). Each node line is
 * a path segment relative to its parent, followed by the methods and constraints; a meta line
 * under it lists the route's `onRequest` hooks. Lines that do not parse are returned in
 * `unparsed` so the caller can fail closed instead of trusting a partial view.
 */
export function parseRouteTree(printed: string): {
  routes: PrintedRoute[]
  unparsed: string[]
} {
  const routes: PrintedRoute[] = []
  const unparsed: string[] = []
  const stack: string[] = []
  const addRoute = (depth: number, node: RegExpExecArray): void => {
    stack.length = depth
    stack.push(node[1] ?? '')
    routes.push({
      methods: (node[2] ?? '').split(', '),
      url: stack.join(''),
      constraints: node[3] ?? '',
      onRequest: [],
      onError: [],
      preValidation: [],
      onSend: [],
    })
  }
  for (const line of printed.split('\n')) {
    if (line.trim() === '' || line.trim() === '(empty tree)') continue
    const branch = BRANCH.exec(line)
    if (branch !== null) {
      const depth = branch.index / 4
      const text = line.slice(branch.index + 4)
      const node = NODE.exec(text)
      if (node !== null) {
        addRoute(depth, node)
      } else {
        // A structural node without routes of its own (no method list).
        stack.length = depth
        stack.push(text)
      }
      continue
    }
    const indent = /^[│ ]*/u.exec(line)?.[0].length ?? 0
    const text = line.slice(indent)
    const meta = META.exec(text)
    if (meta !== null && routes.length > 0) {
      const last = routes.length - 1
      routes[last] = attachHooks(routes[last]!, meta[1] as HookName, meta[2] ?? '')
      continue
    }
    // Another route on the same node (same path, other methods or constraints) is printed
    // without a branch, indented like the node's children, with the node's own segment.
    const node = NODE.exec(text)
    if (node !== null && meta === null && indent >= 4 && indent % 4 === 0) {
      addRoute(indent / 4 - 1, node)
      continue
    }
    unparsed.push(line)
  }
  return { routes, unparsed }
}

function attachHooks(route: PrintedRoute, hook: HookName, json: string): PrintedRoute {
  let names: unknown
  try {
    names = JSON.parse(json)
  } catch {
    names = []
  }
  const list = Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : []
  return { ...route, [hook]: list.map((n) => n.replace(/^bound /u, '').replace(/\(\)$/u, '')) }
}
