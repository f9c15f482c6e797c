import { execFileSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'

// npm can install two copies of @portcullis/tokens in one app: its CommonJS build (required by
// one dependency) and its ESM build (imported by another). A verifier made by one and an
// authenticator made by the other must agree on the issuer's settings: settings travel with the
// verifier, not in a module-level registry that each copy has its own of. This runs the built
// output in a child process, as an app would load it.
const root = fileURLToPath(new URL('../..', import.meta.url))
const url = (path: string): string => pathToFileURL(`${root}${path}`).href

interface Outcome {
  distinct: boolean
  results: Record<string, string>
}

function run(): Outcome {
  const script = `
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const cjs = require(${JSON.stringify(`${root}packages/tokens/dist/index.cjs`)})
const esm = await import(${JSON.stringify(url('packages/tokens/dist/index.js'))})
const { createTestIssuer } = await import(${JSON.stringify(url('packages/testing/dist/index.js'))})

const issuer = await createTestIssuer({ issuer: 'https://auth.test', audience: 'api' })
const token = await issuer.token({ scope: 'videos:read' })

function request(authorization) {
  const message = {
    method: 'GET',
    url: '/v1/videos/1',
    headers: { host: 'api.test', authorization },
    rawHeaders: ['Host', 'api.test', 'Authorization', authorization],
    socket: { encrypted: false },
  }
  return { message, url: '/v1/videos/1', queryTokenAllowed: () => false }
}

async function outcome(verifierFrom, authenticatorFrom, dpop) {
  const verifier = verifierFrom.createVerifier({
    issuers: [{ issuer: issuer.issuer, audience: issuer.audience, algorithms: ['ES256'], jwks: issuer.jwks, dpop }],
  })
  try {
    const authenticator = authenticatorFrom.createAuthenticator(verifier)
    const view = request('Bearer ' + token)
    const credentials = authenticator.credentials(view)
    if (credentials === null) return 'no credentials'
    const principal = await authenticator.verify(credentials, view)
    return 'accepted ' + principal.subject
  } catch (err) {
    return err && typeof err.code === 'string' ? err.code : 'threw ' + String(err)
  }
}

const results = {}
for (const [name, from, to] of [['cjs->esm', cjs, esm], ['esm->cjs', esm, cjs], ['cjs->cjs', cjs, cjs], ['esm->esm', esm, esm]]) {
  results[name + ' required'] = await outcome(from, to, 'required')
  results[name + ' allowed'] = await outcome(from, to, 'allowed')
}
await issuer.close()
console.log(JSON.stringify({ distinct: cjs.createVerifier !== esm.createVerifier, results }))
`
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
  })
  return JSON.parse(out.trim().split('\n').at(-1)!) as Outcome
}

describe('a verifier and an authenticator from different builds of @portcullis/tokens', () => {
  const outcome = run()

  it('loads two distinct copies (CommonJS and ESM), as npm can install them', () => {
    expect(outcome.distinct).toBe(true)
  })

  it.each(['cjs->esm', 'esm->cjs', 'cjs->cjs', 'esm->esm'])(
    '%s: an issuer set to dpop "required" refuses a Bearer token; "allowed" accepts it',
    (pair) => {
      expect(outcome.results[`${pair} required`]).toBe('PCL_DPOP_REQUIRED')
      expect(outcome.results[`${pair} allowed`]).toMatch(/^accepted /)
    },
  )
})
