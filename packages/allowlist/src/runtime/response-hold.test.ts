import type { RequestView } from '@portcullis/core/internal'
import { once } from 'node:events'
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createResponseRules,
  errorBodiesOnly,
  planResponse,
  type ResponseRules,
} from './response-rules.js'
import {
  holdResponse,
  kHolds,
  nodeResponseSteps,
  protectResponses,
  type HoldSlot,
} from './response-hold.js'
import { fakeView } from './fake-view.js'

// The hold is framework-free: a bare Node server whose responses it stands in front of.
class HeldResponse extends ServerResponse {}
protectResponses(HeldResponse.prototype, nodeResponseSteps)

const audits: unknown[] = []

function rulesOf(response: unknown, meters: Parameters<typeof createResponseRules>[4] = []) {
  return createResponseRules(
    planResponse(
      response,
      { label: 'GET /videos', requireResponse: true, knownScopes: undefined },
      errorBodiesOnly(),
    ),
    '/videos',
    { realm: undefined, audit: (event) => void audits.push(event) },
    1024,
    meters,
  )
}

const rules = rulesOf({ allow: ['id', 'title'] })

function viewOf(req: IncomingMessage): RequestView {
  return fakeView({
    method: req.method ?? 'GET',
    message: req,
    url: req.url ?? '/',
    native: req,
    start: performance.now(),
  })
}

let server: Server | undefined
afterEach(async () => {
  server?.close()
  server = undefined
  audits.length = 0
})

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  held: readonly ResponseRules[] = [rules],
  Response: new (req: IncomingMessage) => ServerResponse = HeldResponse,
): Promise<string> {
  server = createServer({ ServerResponse: Response as typeof ServerResponse }, (req, res) => {
    if (req.url !== '/unheld')
      for (const each of held) holdResponse(res, each, viewOf(req), res as HoldSlot)
    handler(req, res)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const ROW = JSON.stringify({ id: 1, title: 'T', ownerEmail: 'a@example.com' })

describe('the response hold on a bare Node server', () => {
  it('projects a JSON body sent with end', async () => {
    const url = await serve((_req, res) => {
      res.setHeader('content-type', 'application/json')
      res.setHeader('content-length', Buffer.byteLength(ROW))
      res.end(ROW)
    })
    const response = await fetch(`${url}/videos`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ id: 1, title: 'T' })
  })

  it('keeps writeHead until the body, so a refusal still sets the status', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<p>a@example.com</p>')
    })
    const response = await fetch(`${url}/videos`)
    expect(response.status).toBe(500)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(await response.text()).not.toContain('a@example.com')
    expect(audits).toHaveLength(1)
  })

  it('refuses a stream written in pieces, and sends none of it', async () => {
    const url = await serve((_req, res) => {
      res.setHeader('content-type', 'application/json')
      Readable.from([ROW.slice(0, 10), ROW.slice(10)]).pipe(res)
    })
    const response = await fetch(`${url}/videos`)
    expect(response.status).toBe(500)
    const body = (await response.json()) as { code: string }
    expect(body.code).toBe('PCL_RESPONSE_REJECTED')
  })

  it('costs nothing on a response nobody holds', async () => {
    const url = await serve((_req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(ROW)
    })
    expect(await (await fetch(`${url}/unheld`)).json()).toEqual(JSON.parse(ROW))
  })

  it('stands behind a method a middleware replaces on the response (as compression does)', async () => {
    const url = await serve((_req, res) => {
      const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse
      res.end = ((...args: unknown[]) => end(...args)) as typeof res.end
      res.setHeader('content-type', 'application/json')
      res.end(ROW)
    })
    expect(await (await fetch(`${url}/videos`)).json()).toEqual({ id: 1, title: 'T' })
  })

  it('leaves alone a method the prototype does not have', () => {
    class Bare extends ServerResponse {}
    protectResponses(Bare.prototype, { ...nodeResponseSteps, json: nodeResponseSteps.end! })
    expect('json' in Bare.prototype).toBe(false)
  })

  it('is put on a prototype once, and stays a method others can replace or wrap', async () => {
    class Fresh extends ServerResponse {}
    const endOf = () => Object.getOwnPropertyDescriptor(Fresh.prototype, 'end')?.value as unknown
    protectResponses(Fresh.prototype, nodeResponseSteps)
    const once = endOf()
    protectResponses(Fresh.prototype, nodeResponseSteps)
    expect(endOf()).toBe(once)
    // A middleware assigns its own `end` on a response (compression does): allowed, strict mode.
    const res = new Fresh({ method: 'GET' } as IncomingMessage)
    const own = () => res
    res.end = own as never
    expect(Reflect.get(res, 'end')).toBe(own)
    // Instrumentation (APM agents) redefines the prototype's method to wrap it: allowed too.
    const wrapped = vi.fn()
    expect(() =>
      Object.defineProperty(Fresh.prototype, 'end', {
        value: wrapped,
        writable: true,
        configurable: true,
        enumerable: false,
      }),
    ).not.toThrow()
    new Fresh({ method: 'GET' } as IncomingMessage).end()
    expect(wrapped).toHaveBeenCalledTimes(1)
  })

  it('is put on a prototype once, however often it is asked', async () => {
    const endOf = (proto: object) => Object.getOwnPropertyDescriptor(proto, 'end')?.value as unknown
    const before = endOf(HeldResponse.prototype)
    protectResponses(HeldResponse.prototype, nodeResponseSteps)
    expect(endOf(HeldResponse.prototype)).toBe(before)
    // Node's own prototypes are left alone: only the one the framework (here: the test) owns.
    expect(Object.hasOwn(ServerResponse.prototype, 'end')).toBe(false)
  })
})

const JSON_TYPE = { 'content-type': 'application/json' }

describe('the hold keeps what the handler set for the body it lets out', () => {
  it('writeHead headers in every form Node takes, and its status message', async () => {
    const url = await serve((req, res) => {
      if (req.url === '/videos/object') {
        res.writeHead(201, { ...JSON_TYPE, 'x-kept': 'yes', 'x-none': undefined })
      } else if (req.url === '/videos/pairs') {
        res.writeHead(201, [
          ['content-type', 'application/json'],
          ['x-kept', 'yes'],
        ])
      } else if (req.url === '/videos/flat') {
        res.writeHead(201, ['content-type', 'application/json', 'x-kept', 'yes'])
      } else if (req.url === '/videos/null') {
        res.setHeader('content-type', 'application/json')
        res.setHeader('x-kept', 'yes')
        res.writeHead(201, null as never)
      } else if (req.url === '/videos/bare') {
        res.setHeader('content-type', 'application/json')
        res.setHeader('x-kept', 'yes')
        res.writeHead(201)
      } else if (req.url === '/videos/reason') {
        res.setHeader('content-type', 'application/json')
        res.setHeader('x-kept', 'yes')
        res.writeHead(201, 'Made')
      } else {
        res.writeHead(201, 'Made', { ...JSON_TYPE, 'x-kept': 'yes' })
      }
      res.end(ROW)
    })
    const paths = ['/object', '/pairs', '/flat', '/null', '/bare', '/reason', '/message']
    for (const path of paths.map((p) => `/videos${p}`)) {
      const response = await fetch(`${url}${path}`)
      expect(response.status, path).toBe(201)
      // The headers are not taken for a status message: Node's own one stays.
      const message = path === '/videos/message' || path === '/videos/reason' ? 'Made' : 'Created'
      expect(response.statusText, path).toBe(message)
      expect(response.headers.get('x-kept'), path).toBe('yes')
      expect(response.headers.has('x-none'), path).toBe(false)
      expect(await response.json(), path).toEqual({ id: 1, title: 'T' })
    }
  })

  it('a body sent with an encoding is read in that encoding', async () => {
    const row = JSON.stringify({ id: 1, title: 'été', ownerEmail: 'a@example.com' })
    const url = await serve((req, res) => {
      res.setHeader('content-type', 'application/json')
      if (req.url === '/videos/hex') res.end(Buffer.from(row).toString('hex'), 'hex')
      else if (req.url === '/videos/latin1') res.end(Buffer.from(row).toString('latin1'), 'latin1')
      else res.end(row, 'utf8')
    })
    for (const path of ['/videos/hex', '/videos/latin1', '/videos/utf8']) {
      const response = await fetch(`${url}${path}`)
      expect(await response.json(), path).toEqual({ id: 1, title: 'été' })
    }
  })

  it("calls end's callback once the projected body is out", async () => {
    const called: string[] = []
    const url = await serve((req, res) => {
      res.setHeader('content-type', 'application/json')
      if (req.url === '/videos/two') res.end(ROW, () => called.push('two'))
      else res.end(ROW, 'utf8', () => called.push('three'))
    })
    for (const path of ['/videos/two', '/videos/three']) {
      expect(await (await fetch(`${url}${path}`)).json()).toEqual({ id: 1, title: 'T' })
    }
    await vi.waitFor(() => expect(called.sort()).toEqual(['three', 'two']))
  })

  it('a body Node itself refuses (a number) throws as it does without the hold; nothing leaves', async () => {
    const thrown: unknown[] = []
    const url = await serve((_req, res) => {
      res.setHeader('content-type', 'application/json')
      try {
        res.end(42 as never)
      } catch (err) {
        thrown.push((err as { code?: string }).code)
      }
      res.end(ROW)
    })
    const response = await fetch(`${url}/videos`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ id: 1, title: 'T' })
    expect(thrown).toEqual(['ERR_INVALID_ARG_TYPE'])
    expect(audits).toEqual([])
  })

  it('what follows an approved body goes out unchecked: a transform that writes it later (gzip)', async () => {
    // Below the hold, an `end` that writes its body later through the response's own `write`, as
    // compression's stream does once the approved body is gzipped.
    class Later extends ServerResponse {
      override end(...args: unknown[]): this {
        setImmediate(() => {
          this.write(args[0])
          super.end()
        })
        return this
      }
    }
    class HeldLater extends Later {}
    protectResponses(HeldLater.prototype, nodeResponseSteps)
    const url = await serve(
      (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(ROW)
      },
      [rules],
      HeldLater,
    )
    const response = await fetch(`${url}/videos`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ id: 1, title: 'T' })
    expect(audits).toEqual([])
  })

  it('a null or empty body, and a status without a body, go out as they are', async () => {
    const url = await serve((req, res) => {
      res.setHeader('content-type', 'application/json')
      if (req.url === '/videos/empty') res.end('')
      else if (req.url === '/videos/null') res.end(null)
      else {
        res.statusCode = 204
        res.end()
      }
    })
    for (const path of ['/videos/empty', '/videos/null', '/videos/none']) {
      const response = await fetch(`${url}${path}`)
      expect(response.status, path).toBe(path === '/videos/none' ? 204 : 200)
      expect(await response.text(), path).toBe('')
    }
    expect(audits).toEqual([])
  })
})

describe('what the hold drops after a refusal', () => {
  it('a write refuses once; what the handler writes and ends after it is dropped, its callback called', async () => {
    const answers: unknown[] = []
    const url = await serve((_req, res) => {
      res.setHeader('content-type', 'application/json')
      answers.push(res.write('{"ownerEmail":'))
      answers.push(res.write('"a@example.com"}'))
      res.flushHeaders()
      res.writeHead(200, JSON_TYPE)
      answers.push(res.end('{"ownerEmail":"b@example.com"}', () => answers.push('ended')))
      answers.push(res.end(() => answers.push('ended again')))
    })
    const response = await fetch(`${url}/videos`)
    expect(response.status).toBe(500)
    const text = await response.text()
    expect(text).not.toContain('a@example.com')
    expect(text).not.toContain('b@example.com')
    expect(audits).toHaveLength(1)
    await vi.waitFor(() => expect(answers).toContain('ended'))
    await vi.waitFor(() => expect(answers).toContain('ended again'))
    expect(answers.slice(0, 2)).toEqual([true, true])
  })

  it('a body whose headers went out first (an error after flushHeaders) closes the connection', async () => {
    const passthrough = rulesOf({ passthrough: 'video file download' })
    const url = await serve(
      (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.flushHeaders()
        res.statusCode = 500
        res.end(JSON.stringify({ title: 'Oops', stack: 'at db.ts:12 hunter2' }))
      },
      [passthrough],
    )
    const response = await fetch(`${url}/videos`)
    expect(response.status).toBe(200)
    await expect(response.text()).rejects.toThrow()
    expect(audits).toHaveLength(1)
  })

  it('flushHeaders waits for the body, so a refusal still sets the status', async () => {
    const url = await serve((_req, res) => {
      res.setHeader('content-type', 'text/html')
      res.flushHeaders()
      res.end('<p>a@example.com</p>')
    })
    const response = await fetch(`${url}/videos`)
    expect(response.status).toBe(500)
    expect(await response.text()).not.toContain('a@example.com')
  })
})

describe('several holds on one response', () => {
  it('every hold projects the body: only what both allowlists allow leaves', async () => {
    const other = rulesOf({ allow: ['id', 'ownerEmail'] })
    const url = await serve(
      (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(ROW)
      },
      [rules, other],
    )
    expect(await (await fetch(`${url}/videos`)).json()).toEqual({ id: 1 })
  })

  it('a refusal of the inner hold leaves as a problem through the outer one', async () => {
    const reject = rulesOf({ allow: ['id'], mode: 'reject' })
    const url = await serve(
      (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(ROW)
      },
      [rules, reject],
    )
    const response = await fetch(`${url}/videos`)
    expect(response.status).toBe(500)
    expect(await response.json()).toMatchObject({ code: 'PCL_RESPONSE_REJECTED' })
  })

  it('the same rules held twice (one guard met twice) check the body once', async () => {
    const serialized = vi.fn((...args: Parameters<ResponseRules['serialized']>) =>
      rules.serialized(...args),
    )
    const spied: ResponseRules = { ...rules, serialized }
    const url = await serve(
      (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(ROW)
      },
      [spied, spied],
    )
    expect(await (await fetch(`${url}/videos`)).json()).toEqual({ id: 1, title: 'T' })
    expect(serialized).toHaveBeenCalledTimes(1)
  })

  it('the same rules met again behind another guard are not held twice', async () => {
    const serialized = vi.fn((...args: Parameters<ResponseRules['serialized']>) =>
      rules.serialized(...args),
    )
    const spied: ResponseRules = { ...rules, serialized }
    const other = rulesOf({ allow: ['id', 'title', 'ownerEmail'] })
    const url = await serve(
      (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(ROW)
      },
      [other, spied, spied],
    )
    expect(await (await fetch(`${url}/videos`)).json()).toEqual({ id: 1, title: 'T' })
    expect(serialized).toHaveBeenCalledTimes(1)
  })
})

describe('holds kept on a slot of the adapter (`slotOf`)', () => {
  // As Express keeps them: on the request's view, found again through `res.req`.
  class Slotted extends ServerResponse {}
  const slots = new Map<string, HoldSlot>()
  protectResponses(Slotted.prototype, nodeResponseSteps, {
    slotOf: (res) => slots.get((res as ServerResponse & { req: IncomingMessage }).req.url ?? ''),
  })
  afterEach(() => slots.clear())

  it('projects through the slot, adds nothing to the response, and leaves the unslotted alone', async () => {
    const owned: symbol[][] = []
    const url = await serve(
      (req, res) => {
        if (req.url === '/videos') {
          const slot: HoldSlot = {}
          slots.set('/videos', slot)
          holdResponse(res, rules, viewOf(req), slot)
          expect(slot[kHolds]).toHaveLength(1)
          // The same rules again (a guard met twice): one hold.
          holdResponse(res, rules, viewOf(req), slot)
          expect(slot[kHolds]).toHaveLength(1)
        }
        owned.push(Object.getOwnPropertySymbols(res).filter((key) => key === kHolds))
        res.setHeader('content-type', 'application/json')
        res.end(ROW)
      },
      [],
      Slotted,
    )
    expect(await (await fetch(`${url}/videos`)).json()).toEqual({ id: 1, title: 'T' })
    // No slot for this response: no hold stands on it.
    expect(await (await fetch(`${url}/other`)).text()).toBe(ROW)
    expect(owned).toEqual([[], []])
  })
})

describe('a response no hold stands on', () => {
  class Refused extends ServerResponse {}
  // The responses `unheld` answers: its own calls go through.
  const answering = new WeakSet<object>()
  protectResponses(Refused.prototype, nodeResponseSteps, {
    unheld: (res) => {
      if (answering.has(res)) return true
      if (res.headersSent) return false
      answering.add(res)
      res.statusCode = 403
      res.end('refused')
      answering.delete(res)
      return false
    },
  })

  it('`unheld` answers it, and the calls it refuses are dropped', async () => {
    const answers: unknown[] = []
    const url = await serve(
      (_req, res) => {
        answers.push(res.write('secret'))
        answers.push(res.end('more secret') === res)
      },
      [],
      Refused,
    )
    const response = await fetch(`${url}/unheld`)
    expect(response.status).toBe(403)
    expect(await response.text()).toBe('refused')
    expect(answers).toEqual([true, true])
  })
})

describe('the meters (egress budgets) charge what the projection lets out', () => {
  const problem = (status: number) => ({
    status,
    headers: { 'content-type': 'application/problem+json' },
    body: { type: 'about:blank', title: 'Refused', status, code: 'PCL_RATE_LIMITED' as const },
  })

  it('a meter that answers later holds the response until it does', async () => {
    const sent: unknown[] = []
    const meter = vi.fn((_view: RequestView, _status: number, egress: { value: unknown }) => {
      sent.push(egress.value)
      return new Promise<null>((resolve) => setTimeout(() => resolve(null), 20))
    })
    const url = await serve(
      (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(ROW)
        // Dropped while the meter has not answered.
        res.end('{"ownerEmail":"b@example.com"}')
      },
      [rulesOf({ allow: ['id', 'title'] }, [meter])],
    )
    expect(await (await fetch(`${url}/videos`)).json()).toEqual({ id: 1, title: 'T' })
    expect(sent).toEqual([{ id: 1, title: 'T' }])
  })

  it('a refusal that comes later is answered in place of the body', async () => {
    const url = await serve(
      (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(ROW)
      },
      [rulesOf({ allow: ['id', 'title'] }, [async () => problem(429)])],
    )
    const response = await fetch(`${url}/videos`)
    expect(response.status).toBe(429)
    expect(await response.json()).toEqual(problem(429).body)
  })

  it('a meter that rejects (a bug) closes the connection; the body never leaves', async () => {
    const url = await serve(
      (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(ROW)
      },
      [rulesOf({ allow: ['id', 'title'] }, [() => Promise.reject(new Error('bug'))])],
    )
    await expect(fetch(`${url}/videos`).then((r) => r.text())).rejects.toThrow()
  })
})
