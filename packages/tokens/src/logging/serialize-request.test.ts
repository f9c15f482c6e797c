import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { serializeRequest } from './serialize-request.js'

describe('serializeRequest', () => {
  it('logs Fastify’s default request fields, the URL with its query tokens redacted', () => {
    const request = {
      method: 'GET',
      url: '/v1/videos/1?access%5Ftoken=SECRET&page=2',
      headers: { host: 'api.test', 'accept-version': '1.x' },
      host: 'api.test',
      ip: '10.0.0.7',
      socket: { remoteAddress: '10.0.0.7', remotePort: 51000 },
    }
    expect(serializeRequest(request)).toEqual({
      method: 'GET',
      url: '/v1/videos/1?access%5Ftoken=[REDACTED]&page=2',
      version: '1.x',
      host: 'api.test',
      remoteAddress: '10.0.0.7',
      remotePort: 51000,
    })
  })

  it('reads a bare IncomingMessage (Express, pino-http) and leaves out what is unknown', () => {
    const message = {
      method: 'POST',
      url: '/x?access_token=SECRET',
      headers: { host: 'api.test' },
      socket: { remoteAddress: '::1' },
    } as unknown as IncomingMessage
    expect(serializeRequest(message)).toEqual({
      method: 'POST',
      url: '/x?access_token=[REDACTED]',
      host: 'api.test',
      remoteAddress: '::1',
    })
  })
})
