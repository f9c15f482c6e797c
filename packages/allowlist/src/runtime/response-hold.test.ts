import type { RequestView } from '@portcullis/core/internal'
import { once } from 'node:events'
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { createResponseRules, errorBodiesOnly, planResponse } from './response-rules.js'
import { holdResponse, nodeResponseSteps, protectResponses } from './response-hold.js'

// The hold is framework-free: a bare Node server whose responses it stands in front of.
class HeldResponse extends ServerResponse {}
protectResponses(HeldResponse.prototype, nodeResponseSteps)

const audits: unknown[] = []
const rules = createResponseRules(
  planResponse(
    { allow: ['id', 'title'] },
    { label: 'GET /videos', requireResponse: true, knownScopes: undefined },
    errorBodiesOnly(),
  ),
  '/videos',
  { realm: undefined, audit: (event) => void audits.push(event) },
  1024,
)

function viewOf(req: IncomingMessage): RequestView {
  return {
    method: req.method ?? 'GET',
    route: '/videos',
    message: req,
    url: req.url ?? '/',
    ip: undefined,
    requestId: null,
    log: { info() {}, warn() {}, error() {} },
    native: req as unknown as RequestView['native'],
    queryTokenAllowed: () => false,
    dpopRequired: () => false,
    setHeader() {},
    start: performance.now(),
    principal: null,
    authenticated: true,
    dpop: undefined,
  }
}

let server: Server | undefined
afterEach(async () => {
  server?.close()
  server = undefined
  audits.length = 0
})

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<string> {
  server = createServer({ ServerResponse: HeldResponse }, (req, res) => {
    if (req.url !== '/unheld') holdResponse(res, rules, viewOf(req))
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

  it('is put on a prototype once, however often it is asked', async () => {
    const endOf = (proto: object) => Object.getOwnPropertyDescriptor(proto, 'end')?.value as unknown
    const before = endOf(HeldResponse.prototype)
    protectResponses(HeldResponse.prototype, nodeResponseSteps)
    expect(endOf(HeldResponse.prototype)).toBe(before)
    // Node's own prototypes are left alone: only the one the framework (here: the test) owns.
    expect(Object.hasOwn(ServerResponse.prototype, 'end')).toBe(false)
  })
})
