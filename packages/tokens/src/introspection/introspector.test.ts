import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isPortcullisError } from '@portcullis/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TokensOptions } from '../options/tokens-options.js'
import { createVerifier } from '../verifier/create-verifier.js'

// An endpoint answering whatever the test sets, and recording what it was sent.
let server: Server
let endpoint: string
let answer: { status: number; body: string } = { status: 200, body: '{"active":false}' }
const received: { authorization: string | undefined; body: string }[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      received.push({ authorization: req.headers.authorization, body })
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`
})
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
})

const ISSUER = 'https://as.test'
const now = (): number => Math.floor(Date.now() / 1000)

function options(introspection: Record<string, unknown> = {}): TokensOptions {
  return {
    issuers: [
      {
        issuer: ISSUER,
        audience: 'api',
        introspection: {
          endpoint,
          clientId: 'api client',
          clientSecret: 's3cr:et',
          cacheTtl: 0,
          ...introspection,
        },
      },
    ],
  }
}

function respond(body: unknown, status = 200): void {
  answer = { status, body: typeof body === 'string' ? body : JSON.stringify(body) }
}

async function outcome(token = 'opaque-token', introspection = {}): Promise<string> {
  try {
    const principal = await createVerifier(options(introspection)).verify(token)
    return `ok ${principal.subject}`
  } catch (err) {
    return isPortcullisError(err) ? err.code : `other ${String(err)}`
  }
}

const active = { active: true, aud: 'api', client_id: 'svc', exp: now() + 600, scope: 'a b' }

describe('the introspection request (RFC 7662 §2.1)', () => {
  it('POSTs the token in the form with client_secret_basic, id and secret form-encoded', async () => {
    respond(active)
    received.length = 0
    expect(await outcome('tok/en+1')).toBe('ok svc')
    const [sent] = received
    expect(Buffer.from(sent!.authorization!.slice(6), 'base64').toString()).toBe(
      'api+client:s3cr%3Aet',
    )
    expect(new URLSearchParams(sent!.body).get('token')).toBe('tok/en+1')
    expect(new URLSearchParams(sent!.body).get('token_type_hint')).toBe('access_token')
    expect(new URLSearchParams(sent!.body).get('client_secret')).toBeNull()
  })

  it('never sends a token that is not a token68 (RFC 6750 §2.1) to the endpoint', async () => {
    respond(active)
    received.length = 0
    for (const token of ['two words', 'a,b', 'caf\u00e9', 'tok=en', '=', 'a\r\nb']) {
      expect(await outcome(token)).toBe('PCL_TOKEN_INVALID')
    }
    expect(received).toEqual([])
    expect(await outcome('tok=')).toBe('ok svc')
  })

  it('client_secret_post sends the credentials in the form, with no Authorization', async () => {
    respond(active)
    received.length = 0
    await outcome('t', { clientAuth: 'client_secret_post' })
    const form = new URLSearchParams(received[0]!.body)
    expect(received[0]!.authorization).toBeUndefined()
    expect([form.get('client_id'), form.get('client_secret')]).toEqual(['api client', 's3cr:et'])
  })
})

describe('the answer', () => {
  it.each([
    ['active, sub, scope', { ...active, sub: 'user-1' }, 'ok user-1'],
    ['no sub: the client is the subject (RFC 9068 §2.2)', active, 'ok svc'],
    ['aud as an array holding ours', { ...active, aud: ['x', 'api'] }, 'ok svc'],
    ['the configured iss', { ...active, iss: ISSUER }, 'ok svc'],
    ['active: false', { active: false }, 'PCL_TOKEN_INVALID'],
    ['another iss', { ...active, iss: 'https://evil.test' }, 'PCL_TOKEN_INVALID'],
    ['another aud', { ...active, aud: 'other' }, 'PCL_TOKEN_INVALID'],
    ['no aud', { ...active, aud: undefined }, 'PCL_TOKEN_INVALID'],
    ['neither sub nor client_id', { ...active, client_id: undefined }, 'PCL_TOKEN_INVALID'],
    ['expired', { ...active, exp: now() - 60 }, 'PCL_TOKEN_EXPIRED'],
    ['not yet valid', { ...active, nbf: now() + 600 }, 'PCL_TOKEN_INVALID'],
    ['scope as an array', { ...active, scope: ['a'] }, 'PCL_INTROSPECTION_UNAVAILABLE'],
    ['active as a string', { ...active, active: 'true' }, 'PCL_INTROSPECTION_UNAVAILABLE'],
    ['no active', { aud: 'api', client_id: 'svc' }, 'PCL_INTROSPECTION_UNAVAILABLE'],
    ['not JSON', '<html>', 'PCL_INTROSPECTION_UNAVAILABLE'],
    ['a JSON array', '[]', 'PCL_INTROSPECTION_UNAVAILABLE'],
  ])('%s', async (_name, body, expected) => {
    respond(body)
    expect(await outcome()).toBe(expected)
  })

  it.each([401, 404, 500, 302])('HTTP %i is 503, never a verdict on the token', async (status) => {
    respond(active, status)
    expect(await outcome()).toBe('PCL_INTROSPECTION_UNAVAILABLE')
  })

  it('an answer larger than 64 KiB is 503', async () => {
    respond({ ...active, pad: 'x'.repeat(70_000) })
    expect(await outcome()).toBe('PCL_INTROSPECTION_UNAVAILABLE')
  })

  it('scope becomes the principal scopes; the answer its frozen claims', async () => {
    respond({ ...active, acr: 'gold' })
    const principal = await createVerifier(options()).verify('t')
    expect([...principal.scopes]).toEqual(['a', 'b'])
    expect(principal.issuer).toBe(ISSUER)
    expect(principal.claims).toMatchObject({ acr: 'gold', iss: ISSUER })
    expect(Object.isFrozen(principal.claims)).toBe(true)
  })

  it('a JWS-shaped token is never introspected: it goes to the JWT issuers', async () => {
    respond(active)
    received.length = 0
    expect(await outcome('a.b.c')).toBe('PCL_TOKEN_INVALID')
    expect(received).toHaveLength(0)
  })

  it('an empty token is refused without asking the server', async () => {
    respond(active)
    received.length = 0
    expect(await outcome('')).toBe('PCL_TOKEN_INVALID')
    expect(received).toHaveLength(0)
  })

  it('errors name neither the token nor the secret', async () => {
    respond(active, 500)
    try {
      await createVerifier(options()).verify('secret-token-value')
      expect.unreachable()
    } catch (err) {
      const text = JSON.stringify(err, Object.getOwnPropertyNames(err)) + String(err)
      expect(text).not.toContain('secret-token-value')
      expect(text).not.toContain('s3cr:et')
    }
  })
})

describe('the cache', () => {
  function verifierWith(max: number) {
    return createVerifier({ ...options({ cacheTtl: '1 hour' }), cache: { max } })
  }

  it('is bounded by cache.max: the least recently used answer is asked again', async () => {
    respond(active)
    const verifier = verifierWith(2)
    received.length = 0
    for (const token of ['t1', 't2', 't3']) await verifier.verify(token)
    await verifier.verify('t3')
    await verifier.verify('t2')
    expect(received).toHaveLength(3)
    await verifier.verify('t1')
    expect(received).toHaveLength(4)
  })

  it('keeps no failure: after an outage the next request asks again and passes', async () => {
    const verifier = verifierWith(10)
    respond('down', 503)
    await expect(Promise.resolve().then(() => verifier.verify('t'))).rejects.toMatchObject({
      code: 'PCL_INTROSPECTION_UNAVAILABLE',
    })
    respond(active)
    expect((await verifier.verify('t')).subject).toBe('svc')
  })

  it('keeps no inactive answer: a token the server activates later passes', async () => {
    const verifier = verifierWith(10)
    respond({ active: false })
    await expect(Promise.resolve().then(() => verifier.verify('t'))).rejects.toMatchObject({
      code: 'PCL_TOKEN_INVALID',
    })
    respond(active)
    expect((await verifier.verify('t')).subject).toBe('svc')
  })

  it('cache: false asks every time', async () => {
    respond(active)
    const verifier = createVerifier({ ...options({ cacheTtl: '1 hour' }), cache: false })
    received.length = 0
    await verifier.verify('t')
    await verifier.verify('t')
    expect(received).toHaveLength(2)
  })
})

describe('options', () => {
  const field = (input: unknown): string => {
    try {
      createVerifier(input as TokensOptions)
    } catch (err) {
      return (err as { field?: string }).field ?? 'no field'
    }
    return 'accepted'
  }
  const issuer = (introspection: Record<string, unknown>, extra = {}) => ({
    issuers: [
      {
        issuer: ISSUER,
        audience: 'api',
        introspection: {
          endpoint: 'http://127.0.0.1:9/introspect',
          clientId: 'c',
          clientSecret: 's',
          ...introspection,
        },
        ...extra,
      },
    ],
  })

  it.each([
    [
      issuer({ endpoint: 'http://as.example/introspect' }),
      'tokens.issuers[0].introspection.endpoint',
    ],
    [issuer({ endpoint: 'https://u:p@as.example/i' }), 'tokens.issuers[0].introspection.endpoint'],
    [issuer({ clientSecret: '' }), 'tokens.issuers[0].introspection.clientSecret'],
    [issuer({ clientAuth: 'private_key_jwt' }), 'tokens.issuers[0].introspection.clientAuth'],
    [issuer({ cacheTtl: -1 }), 'tokens.issuers[0].introspection.cacheTtl'],
    [issuer({ cacheTtl: '2 days' }), 'tokens.issuers[0].introspection.cacheTtl'],
    [issuer({ timeout: 10 }), 'tokens.issuers[0].introspection.timeout'],
    [issuer({ extra: 1 }), 'tokens.issuers[0].introspection.extra'],
    [issuer({}, { algorithms: ['ES256'] }), 'tokens.issuers[0].algorithms'],
    [issuer({}, { audience: [] }), 'tokens.issuers[0].audience'],
  ])('%j is refused naming %s', (input, expected) => {
    expect(field(input)).toBe(expected)
  })

  it('at most one introspection issuer', () => {
    const one = issuer({}).issuers[0]!
    expect(field({ issuers: [one, { ...one, issuer: 'https://as2.test' }] })).toBe(
      'tokens.issuers[1].introspection',
    )
  })

  it('an introspection issuer alone, with the defaults, is accepted', () => {
    expect(field(issuer({}))).toBe('accepted')
  })
})
