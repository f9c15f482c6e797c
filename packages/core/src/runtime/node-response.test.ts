import { describe, expect, it } from 'vitest'
import { errorStatus, statusProblem, writeProblem } from './node-response.js'
import type { ServerResponse } from 'node:http'

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
})
