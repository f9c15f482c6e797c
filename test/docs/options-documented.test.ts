import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

// Every option a user can pass is documented on its plugin's page: the property names of the
// exported option types (read with the compiler, declaration merging included) must each appear
// as `name` in one of the pages listed for the type. A new option without docs fails here.

const root = fileURLToPath(new URL('../..', import.meta.url))

const PAGES: Record<string, { module: string; types: string[]; pages: string[] }> = {
  fastify: {
    module: 'fastify',
    types: ['PortcullisOptions'],
    pages: ['docs/guides/fastify.md'],
  },
  tokens: {
    module: 'tokens',
    types: [
      'TokensOptions',
      'TokensIssuerOptions',
      'TokensIntrospectionIssuerOptions',
      'TokensIntrospectionOptions',
      'TokensJwksOptions',
      'TokensDpopOptions',
      'TokensDpopNonceOptions',
      'TokensDpopReplayOptions',
      'RedisRevocationOptions',
    ],
    pages: ['packages/tokens/README.md', 'docs/guides/tokens.md'],
  },
  policy: {
    module: 'policy',
    types: ['PolicyPluginOptions'],
    pages: ['packages/policy/README.md', 'docs/guides/route-guards.md'],
  },
  guard: {
    module: 'core',
    types: ['RouteGuard'],
    pages: ['docs/guides/route-guards.md'],
  },
  rateLimit: {
    module: 'rate-limit',
    types: ['RateLimitOptions', 'PreAuthOptions', 'RouteLimit', 'RateLimitOverride'],
    pages: ['packages/rate-limit/README.md'],
  },
  allowlist: {
    module: 'allowlist',
    types: ['AllowlistPluginOptions', 'AllowlistSpec', 'BodyRule'],
    pages: ['packages/allowlist/README.md', 'docs/guides/allowlist.md', 'docs/guides/body.md'],
  },
}

function program(): ts.Program {
  const configFile = `${root}tsconfig.json`
  const { config } = ts.readConfigFile(configFile, (path) => ts.sys.readFile(path))
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configFile)
  const entries = Object.values(PAGES).map(({ module }) => `${root}packages/${module}/src/index.ts`)
  // Every package's entry point, so that every declaration merge into RouteGuard is seen.
  for (const name of ['fastify', 'tokens', 'policy', 'rate-limit', 'allowlist']) {
    entries.push(`${root}packages/${name}/src/index.ts`)
  }
  return ts.createProgram([...new Set(entries)], { ...parsed.options, noEmit: true })
}

/** The property names of an exported type (object members of a union included). */
function propertiesOf(checker: ts.TypeChecker, source: ts.SourceFile, name: string): string[] {
  const moduleSymbol = checker.getSymbolAtLocation(source)
  if (moduleSymbol === undefined) throw new Error(`${source.fileName} is not a module`)
  const exported = checker.getExportsOfModule(moduleSymbol).find((s) => s.name === name)
  if (exported === undefined) throw new Error(`${name} is not exported by ${source.fileName}`)
  const symbol =
    exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
  const type = checker.getDeclaredTypeOfSymbol(symbol)
  const members = type.isUnion() ? type.types : [type]
  const names = new Set<string>()
  for (const member of members) {
    if (!(member.flags & ts.TypeFlags.Object)) continue
    for (const property of checker.getPropertiesOfType(member)) names.add(property.name)
  }
  return [...names]
}

describe('every option is documented on its page', () => {
  const compiled = program()
  const checker = compiled.getTypeChecker()

  for (const [plugin, { module, types, pages }] of Object.entries(PAGES)) {
    it(`${plugin}: ${types.join(', ')}`, () => {
      const source = compiled.getSourceFile(`${root}packages/${module}/src/index.ts`)!
      const text = pages.map((page) => readFileSync(`${root}${page}`, 'utf8')).join('\n')
      const missing = types.flatMap((type) => {
        const names = propertiesOf(checker, source, type)
        expect(names.length, type).toBeGreaterThan(0)
        // `name`, or a path ending in it: `issuers[].audience`, `jwks.timeout`.
        const documented = (name: string): boolean =>
          new RegExp(`\`(?:[\\w.[\\]]*[.\\]])?${name}\``).test(text)
        return names.filter((name) => !documented(name)).map((name) => `${type}.${name}`)
      })
      expect(missing, `undocumented in ${pages.join(' or ')}`).toEqual([])
    })
  }
})
