import { describe, expect, it } from 'vitest'
import { AuthenticationError, PortcullisConfigError } from '../errors/index.js'
import { errorProblem, errorStatus, statusProblem, writeProblem } from './node-response.js'
import type { GuardLogger } from './request-view.js'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

describe('errorStatus', () => {
  it('reads status or statusCode, client and server errors other than a bare 500', () => {
    expect(errorStatus(Object.assign(new Error('x'), { status: 400 }))).toBe(400)
    expect(errorStatus({ statusCode: 413 })).toBe(413)
    expect(errorStatus({ status: 503 })).toBe(503)
    expect(errorStatus({ status: 500 })).toBeNull()
    expect(errorStatus({ status: 302 })).toBeNull()
    expect(errorStatus({ status: '404' })).toBeNull()
    expect(errorStatus(new Error('plain'))).toBeNull()
    expect(errorStatus(null)).toBeNull()
    // Only integers from 400 to 599, from an object.
    expect(errorStatus({ status: 599 })).toBe(599)
    expect(errorStatus({ status: 600 })).toBeNull()
    expect(errorStatus({ status: 404.5 })).toBeNull()
    expect(errorStatus({ statusCode: '404' })).toBeNull()
    expect(errorStatus(Object.assign(() => undefined, { status: 404 }))).toBeNull()
  })

  it('a status without a phrase is titled Error', () => {
    expect(statusProblem(599).body).toEqual({ type: 'about:blank', title: 'Error', status: 599 })
  })

  it('answers with an about:blank problem of the status, nothing else', () => {
    expect(statusProblem(413)).toEqual({
      status: 413,
      headers: { 'content-type': 'application/problem+json' },
      body: { type: 'about:blank', title: 'Payload Too Large', status: 413 },
    })
  })
})

describe('writeProblem', () => {
  function fakeResponse(headersSent: boolean) {
    const headers = new Map<string, unknown>([
      ['etag', '"v1"'],
      ['content-encoding', 'gzip'],
      ['x-app', 'kept'],
    ])
    const calls: string[] = []
    const res = {
      headersSent,
      statusCode: 200,
      getHeaderNames: () => [...headers.keys()],
      hasHeader: (name: string) => headers.has(name),
      removeHeader: (name: string) => void headers.delete(name),
      setHeader: (name: string, value: unknown) => void headers.set(name, value),
      destroy: () => void calls.push('destroy'),
      end: (body: Buffer) => void calls.push(`end ${body.toString()}`),
    }
    return { res: res as unknown as ServerResponse, headers, calls }
  }

  it('replaces the status and the headers that describe the application body', () => {
    const { res, headers, calls } = fakeResponse(false)
    writeProblem(res, statusProblem(404))
    expect(res.statusCode).toBe(404)
    expect(headers.has('etag')).toBe(false)
    expect(headers.has('content-encoding')).toBe(false)
    expect(headers.get('x-app')).toBe('kept')
    expect(headers.get('content-type')).toBe('application/problem+json')
    expect(calls).toEqual([`end ${JSON.stringify(statusProblem(404).body)}`])
    expect(headers.get('content-length')).toBe(Buffer.byteLength(calls[0]!.slice(4)))
  })

  it('closes the connection once headers are out: the status can no longer change', () => {
    const { res, calls } = fakeResponse(true)
    writeProblem(res, statusProblem(403))
    expect(calls).toEqual(['destroy'])
  })

  // Over a real socket: what the client reads, whichever way the response was written.
  async function served(write: (res: ServerResponse) => void) {
    const server = createServer((_req, res) => write(res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const res = await fetch(`http://127.0.0.1:${port}/`)
      return { status: res.status, headers: res.headers, body: await res.text() }
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  }

  const frozen = () =>
    Object.freeze({
      status: 401,
      headers: Object.freeze({
        'content-type': 'application/problem+json',
        'WWW-Authenticate': 'Bearer realm="api", error="invalid_token"',
      }),
      body: Object.freeze({ type: 'about:blank', title: 'Unauthorized', status: 401 }),
    })

  const refusal = Object.freeze({
    status: 401,
    headers: Object.freeze({
      'content-type': 'application/problem+json',
      'www-authenticate': 'Bearer realm="api", error="invalid_token"',
    }),
    body: Object.freeze({ type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'é' }),
  })

  it('writes the same response with nothing set before, twice from one frozen problem', async () => {
    for (let i = 0; i < 2; i++) {
      const got = await served((res) => writeProblem(res, refusal))
      expect(got.status).toBe(401)
      expect(got.headers.get('content-type')).toBe('application/problem+json')
      expect(got.headers.get('www-authenticate')).toBe(refusal.headers['www-authenticate'])
      expect(got.headers.get('content-length')).toBe(String(Buffer.byteLength(got.body)))
      expect(JSON.parse(got.body)).toEqual(refusal.body)
    }
  })

  it("sends the framework's headers beside the problem's, never those describing a body", async () => {
    const held = {
      'ratelimit-limit': 10,
      'Set-Cookie': ['a=1', 'b=2'],
      ETag: '"v1"',
      'content-type': 'application/json',
      'Content-Length': '9999',
      'WWW-Authenticate': 'Basic',
      'x-skipped': undefined,
    }
    for (const before of [null, 'x-app']) {
      // A problem never written before: its wire form is made in this test.
      const problem = frozen()
      const got = await served((res) => {
        if (before !== null) res.setHeader(before, 'kept')
        writeProblem(res, problem, undefined, held)
      })
      expect(got.status).toBe(401)
      expect(got.headers.get('ratelimit-limit')).toBe('10')
      expect(got.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
      expect(got.headers.get('etag')).toBeNull()
      expect(got.headers.get('x-skipped')).toBeNull()
      expect(got.headers.get('content-type')).toBe('application/problem+json')
      expect(got.headers.get('www-authenticate')).toBe(problem.headers['WWW-Authenticate'])
      expect(got.headers.get('content-length')).toBe(String(Buffer.byteLength(got.body)))
      expect(JSON.parse(got.body)).toEqual(problem.body)
      if (before !== null) expect(got.headers.get(before)).toBe('kept')
    }
  })

  it('hands Node one frozen header list per frozen problem, a fresh one otherwise', () => {
    const lists = (problem: ReturnType<typeof frozen>) => {
      const seen: unknown[] = []
      for (let i = 0; i < 2; i++) {
        const res = {
          headersSent: false,
          getHeaderNames: () => [],
          writeHead: (_status: number, headers: unknown) => void seen.push(headers),
          end: () => undefined,
        } as unknown as ServerResponse
        writeProblem(res, problem)
      }
      return seen
    }
    const once = lists(frozen())
    expect(once[0]).toBe(once[1])
    expect(Object.isFrozen(once[0])).toBe(true)
    const each = lists({ ...frozen() })
    expect(each[0]).not.toBe(each[1])
    expect(Object.isFrozen(each[0])).toBe(false)
  })

  it('hands the body to the given end, whatever the response holds (a response hold writes so)', () => {
    for (const problem of [frozen(), { ...frozen() }]) {
      const ended: string[] = []
      const calls: string[] = []
      const res = {
        headersSent: false,
        statusCode: 200,
        getHeaderNames: () => [],
        hasHeader: () => false,
        removeHeader: () => undefined,
        setHeader: (name: string) => void calls.push(`set ${name.toLowerCase()}`),
        writeHead: () => void calls.push('writeHead'),
        end: () => void calls.push('end'),
      } as unknown as ServerResponse
      writeProblem(res, problem, (body) => void ended.push(body.toString()))
      expect(ended).toEqual([JSON.stringify(problem.body)])
      expect(calls).toEqual(['set content-type', 'set www-authenticate', 'set content-length'])
      expect(res.statusCode).toBe(401)
    }
  })
})

describe('errorProblem', () => {
  function logger() {
    const lines: string[] = []
    const objs: unknown[] = []
    const log = {
      info: () => undefined,
      warn: () => undefined,
      error: (obj: unknown, msg: string) => void (objs.push(obj), lines.push(msg)),
    } as unknown as GuardLogger
    return { log, lines, objs }
  }
  const context = { realm: 'api', resourceMetadata: undefined }

  it("renders Portcullis's own refusals as themselves, with the realm", () => {
    const { log, lines } = logger()
    const problem = errorProblem(new AuthenticationError('PCL_TOKEN_MISSING'), context, log)
    expect(problem.status).toBe(401)
    expect(problem.headers['www-authenticate']).toContain('realm="api"')
    expect(lines).toEqual([])
  })

  it('answers a status error with its code where Portcullis has one, else about:blank', () => {
    const { log, lines } = logger()
    expect(errorProblem({ status: 400 }, context, log).body).toMatchObject({
      code: 'PCL_MALFORMED_REQUEST',
      status: 400,
    })
    expect(errorProblem({ statusCode: 413 }, context, log).body).toMatchObject({
      code: 'PCL_BODY_TOO_LARGE',
    })
    expect(errorProblem({ status: 414 }, context, log).body).toMatchObject({
      code: 'PCL_URI_TOO_LONG',
    })
    expect(errorProblem({ status: 415 }, context, log).body).toMatchObject({
      code: 'PCL_BODY_UNREADABLE',
    })
    expect(errorProblem({ status: 404 }, context, log)).toEqual(statusProblem(404))
    expect(lines).toEqual([])
    expect(errorProblem({ status: 503 }, context, log)).toEqual(statusProblem(503))
    expect(lines).toEqual(['portcullis: request failed'])
    const failed = { status: 502 }
    const { log: log2, objs } = logger()
    errorProblem(failed, context, log2)
    expect(objs).toEqual([{ err: failed }])
  })

  it('answers anything else, a config or internal error included, as a logged 500 PCL_INTERNAL without its message', () => {
    const { log, lines } = logger()
    for (const err of [
      new Error('secret detail'),
      new PortcullisConfigError('PCL_INVALID_OPTIONS', 'secret detail'),
      'secret detail',
    ]) {
      const problem = errorProblem(err, context, log)
      expect(problem.status).toBe(500)
      expect(problem.body).toMatchObject({ code: 'PCL_INTERNAL' })
      expect(JSON.stringify(problem)).not.toContain('secret')
    }
    expect(lines).toEqual(Array(3).fill('portcullis: unhandled error; answered 500'))
    const bug = new TypeError('x')
    const { log: log2, objs } = logger()
    errorProblem(bug, context, log2)
    expect(objs).toEqual([{ err: bug }])
  })
})
