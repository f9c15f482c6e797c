import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { connectionOrigin, parseHtu, requestPath } from './htu.js'

function message(headers: Record<string, string>, encrypted = false): IncomingMessage {
  return { headers, socket: { encrypted } } as unknown as IncomingMessage
}

describe('parseHtu (RFC 9449 §4.3, RFC 3986 §6.2)', () => {
  it('normalises case, default ports, dot segments and percent-encodings; drops query and fragment', () => {
    const expected = { origin: 'https://api.test', path: '/v1/videos/~1' }
    for (const htu of [
      'https://api.test/v1/videos/~1',
      'HTTPS://API.TEST:443/v1/videos/~1',
      'https://api.test/v1/a/../videos/%7E1',
      'https://api.test/v1/videos/%7e1?x=1#y',
    ]) {
      expect(parseHtu(htu), htu).toEqual(expected)
    }
    expect(parseHtu('https://api.test/a%2fb')?.path).toBe('/a%2Fb')
    expect(parseHtu('http://api.test:8080/')).toEqual({ origin: 'http://api.test:8080', path: '/' })
  })

  it('is null for what is not an absolute http(s) URI without credentials', () => {
    for (const htu of [
      '/v1/videos',
      'ftp://api.test/x',
      'https://u:p@api.test/',
      'https://u@api.test/',
      'https://:p@api.test/',
      'not a url',
      '',
    ]) {
      expect(parseHtu(htu), htu).toBeNull()
    }
  })
})

describe('connectionOrigin', () => {
  it('uses https on a TLS socket, the Host header, and never X-Forwarded-*', () => {
    expect(connectionOrigin(message({ host: 'api.test' }, true))).toBe('https://api.test')
    expect(connectionOrigin(message({ host: 'API.test:80' }))).toBe('http://api.test')
    expect(
      connectionOrigin(
        message({
          host: 'internal:3000',
          'x-forwarded-host': 'public.test',
          'x-forwarded-proto': 'https',
        }),
      ),
    ).toBe('http://internal:3000')
    expect(connectionOrigin(message({ ':authority': 'h2.test' }, true))).toBe('https://h2.test')
  })

  it('is null without a usable host', () => {
    for (const host of ['', 'a b', 'api.test/path', 'user@api.test', 'api.test?x', 'api.test#x']) {
      expect(connectionOrigin(message({ host })), host).toBeNull()
    }
    expect(connectionOrigin(message({}))).toBeNull()
  })

  it('reads a request whose socket is gone (detached) as plain HTTP', () => {
    const detached = { headers: { host: 'api.test' }, socket: null } as unknown as IncomingMessage
    expect(connectionOrigin(detached)).toBe('http://api.test')
  })
})

describe('requestPath', () => {
  it('takes the path as the router sees it: percent-encodings normalised, without its query', () => {
    expect(requestPath('/v1/videos/%7e1?x=1')).toBe('/v1/videos/~1')
    expect(requestPath('/v1/a%2fb')).toBe('/v1/a%2Fb')
    expect(requestPath('/v1/{x}')).toBe(parseHtu('http://h/v1/{x}')?.path)
    expect(requestPath('http://any.host/v1/x?y')).toBe('/v1/x')
    expect(requestPath('http://any.host?y')).toBe('/')
    // An origin-form target starting with // is a path, not an authority.
    expect(requestPath('//evil.test/x')).toBe('//evil.test/x')
  })

  it('keeps dot segments: the router serves them, so an htu resolving them never matches', () => {
    // The router serves /v1/videos/%2e%2e as /v1/videos/:id with id "..", not as /v1/.
    for (const [target, path] of [
      ['/v1/videos/%2e%2e', '/v1/videos/..'],
      ['/v1/videos/%2E%2e?x', '/v1/videos/..'],
      ['/v1/a/../b', '/v1/a/../b'],
      ['/v1/./x', '/v1/./x'],
      ['http://any.host/v1/videos/%2e%2e', '/v1/videos/..'],
    ] as const) {
      expect(requestPath(target), target).toBe(path)
    }
    expect(parseHtu('http://api.test/v1/videos/%2e%2e')?.path).toBe('/v1/')
    expect(parseHtu('http://api.test/v1/videos/..')?.path).toBe('/v1/')
  })

  it('is null for a target that is no path, or holds what no request line may', () => {
    for (const target of ['*', 'videos/1', 'api.test:443', '/a b', '/\u00e9', '/a\tb']) {
      expect(requestPath(target), target).toBeNull()
    }
  })
})
