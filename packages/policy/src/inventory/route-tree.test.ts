import { describe, expect, it } from 'vitest'
import { parseRouteTree } from './route-tree.js'

const printed = `├── /early (GET, HEAD)
│   • (onRequest) ["portcullisUnknownRoute()"]
├── /re/:id(^\\d+) (x) (GET, HEAD)
│   • (onRequest) ["portcullisUnknownRoute()","bound portcullisRouteGuard()"]
└── /p (GET, HEAD)
    • (onRequest) ["portcullisRouteGuard()"]
    └── / (GET, HEAD)
        ├── b/:id (GET, HEAD)
        │   • (onRequest) ["portcullisRouteGuard()"]
        ├── m (POST, PUT)
        ├── v (GET, HEAD) {"version":"1.0.0"}
        │   • (onRequest) ["portcullisRouteGuard()"]
        └── * (GET, HEAD)
            • (onRequest) ["portcullisRouteGuard()"]
`

describe('parseRouteTree', () => {
  const { routes, unparsed } = parseRouteTree(printed)

  it('rebuilds full URLs, methods, constraints and hooks', () => {
    expect(unparsed).toEqual([])
    expect(routes.map((r) => `${r.methods.join(',')} ${r.url}`)).toEqual([
      'GET,HEAD /early',
      'GET,HEAD /re/:id(^\\d+) (x)',
      'GET,HEAD /p',
      'GET,HEAD /p/',
      'GET,HEAD /p/b/:id',
      'POST,PUT /p/m',
      'GET,HEAD /p/v',
      'GET,HEAD /p/*',
    ])
    expect(routes[6]?.constraints).toBe('{"version":"1.0.0"}')
    expect(routes[0]?.onRequest).toEqual(['portcullisUnknownRoute'])
    expect(routes[1]?.onRequest).toEqual(['portcullisUnknownRoute', 'portcullisRouteGuard'])
  })

  it('gives a route without hooks an empty hook list', () => {
    expect(routes[3]?.onRequest).toEqual([])
    expect(routes[5]?.onRequest).toEqual([])
  })

  it('reads several routes on one node (other constraints or methods)', () => {
    const tree = [
      '├── /v (GET, HEAD) {"version":"1.2.0"}',
      '│   • (onRequest) ["h()"]',
      '│   /v (GET, HEAD) {"version":"2.0.0"}',
      '│   • (onRequest) ["h()","portcullisRouteGuard()"]',
      '│   /v (POST)',
      '│   └── /x (GET, HEAD) {"version":"1.2.0"}',
      '│       • (onRequest) ["h()"]',
      '└── /h (GET, HEAD) {"host":"internal.example"}',
    ].join('\n')
    const parsed = parseRouteTree(tree)
    expect(parsed.unparsed).toEqual([])
    expect(parsed.routes.map((r) => `${r.methods.join(',')} ${r.url} ${r.constraints}`)).toEqual([
      'GET,HEAD /v {"version":"1.2.0"}',
      'GET,HEAD /v {"version":"2.0.0"}',
      'POST /v ',
      'GET,HEAD /v/x {"version":"1.2.0"}',
      'GET,HEAD /h {"host":"internal.example"}',
    ])
    expect(parsed.routes[1]?.onRequest).toEqual(['h', 'portcullisRouteGuard'])
    expect(parsed.routes[2]?.onRequest).toEqual([])
  })

  it('reports lines it cannot read instead of skipping them', () => {
    expect(parseRouteTree('garbage line\n').unparsed).toEqual(['garbage line'])
  })

  it('reads an empty tree as no routes', () => {
    expect(parseRouteTree('(empty tree)')).toEqual({ routes: [], unparsed: [] })
  })
})
