// Where code generation is refused (--disallow-code-generation-from-strings, a CSP), projections
// run on the interpreter alone, with the same results.
import { afterEach, describe, expect, it, vi } from 'vitest'

afterEach(() => {
  vi.unstubAllGlobals()
  vi.resetModules()
})

describe('without code generation', () => {
  it('projects, caps and reports as with it', async () => {
    vi.resetModules()
    const { compileAllowlist } = await import('./compile-allowlist.js')
    // Refuses code generation the way V8 does, for the projector only: zod, which
    // decided at its own start that it may generate code, keeps its own.
    const RealFunction = Function
    const probes: string[] = []
    const refused = function (...args: string[]) {
      // The probe, or the projector's own factory (its first parameter is `P`).
      if (args.at(-1) === 'return true' || args[0] === 'P') {
        probes.push(args[0]!)
        throw new EvalError('Code generation from strings disallowed for this context')
      }
      return new RealFunction(...args)
    }
    vi.stubGlobal('Function', refused)
    const spec = { allow: ['id', 'items[].id', 'owner.name'], maxItems: { default: 2 } }
    const allowlist = compileAllowlist(spec, { route: 'GET /x' })
    vi.unstubAllGlobals()
    expect(probes).toHaveLength(1)
    const context = { status: 200, scopes: new Set<string>() }
    const body = { id: 1, secret: 's', items: [{ id: 1, x: 2 }], owner: { name: 'n', email: 'e' } }
    expect(allowlist.project(body, context)).toEqual({
      ok: true,
      value: { id: 1, items: [{ id: 1 }], owner: { name: 'n' } },
      removed: [],
    })
    expect(allowlist.project({ items: [{}, {}, {}] }, context)).toMatchObject({
      ok: false,
      error: { code: 'PCL_TOO_MANY_ITEMS' },
    })
    // The probe ran once: later compilations use the interpreter without asking again.
    compileAllowlist(spec, { route: 'GET /y' })
    expect(probes).toHaveLength(1)
  })
})
