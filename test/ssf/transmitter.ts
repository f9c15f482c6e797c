import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RedisRevocation, SetReceiverOptions } from '@portcullis/tokens'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JSONWebKeySet } from 'jose'

// A Shared Signals transmitter for tests: its keys, SETs signed as it (or forged), and an RFC 8936
// poll endpoint on loopback that records what the receiver acknowledged.

export const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/'
export const RISC = 'https://schemas.openid.net/secevent/risc/event-type/'

export interface PollRequest {
  ack?: string[]
  setErrs?: Record<string, { err: string; description: string }>
  maxEvents?: number
  returnImmediately?: boolean
}

export interface TestTransmitter {
  readonly issuer: string
  readonly audience: string
  readonly jwks: JSONWebKeySet
  /** A SET with `events`, signed by the transmitter's key; `claims` and `header` override. */
  set(
    events: Record<string, unknown>,
    options?: {
      claims?: Record<string, unknown>
      header?: Record<string, unknown>
      key?: CryptoKey
    },
  ): Promise<string>
  /** A key that is not the transmitter's (for forged SETs). */
  readonly otherKey: CryptoKey
  /** Starts the poll endpoint; SETs queued with `queue` are served until acknowledged. */
  listen(): Promise<string>
  queue(key: string, set: string): void
  readonly polls: PollRequest[]
  close(): Promise<void>
}

export async function createTestTransmitter(
  options: { issuer?: string; audience?: string } = {},
): Promise<TestTransmitter> {
  const issuer = options.issuer ?? 'https://idp.test'
  const audience = options.audience ?? 'https://videos.test'
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const other = await generateKeyPair('ES256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'ssf-1', alg: 'ES256', use: 'sig' }
  const pending = new Map<string, string>()
  const polls: PollRequest[] = []
  let server: Server | undefined
  let url: string | undefined

  return {
    issuer,
    audience,
    jwks: { keys: [jwk] },
    otherKey: other.privateKey,
    set(events, { claims = {}, header = {}, key = privateKey } = {}) {
      return new SignJWT({
        iss: issuer,
        aud: audience,
        jti: randomUUID(),
        iat: Math.floor(Date.now() / 1000),
        events,
        ...claims,
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'secevent+jwt', kid: 'ssf-1', ...header })
        .sign(key)
    },
    async listen() {
      if (url !== undefined) return url
      server = createServer((req, res) => {
        let body = ''
        req.on('data', (chunk: Buffer) => (body += chunk.toString()))
        req.on('end', () => {
          const request = JSON.parse(body) as PollRequest
          polls.push(request)
          for (const key of [...(request.ack ?? []), ...Object.keys(request.setErrs ?? {})]) {
            pending.delete(key)
          }
          const max = request.maxEvents ?? 100
          const sets = Object.fromEntries([...pending].slice(0, max))
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ sets, moreAvailable: pending.size > max }))
        })
      })
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ssf/poll`
      return url
    },
    queue(key, set) {
      pending.set(key, set)
    },
    polls,
    async close() {
      server?.closeAllConnections()
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)))
    },
  }
}

/** CAEP session-revoked for one session of `sub` (a complex subject, as CAEP shows it). */
export const sessionRevoked = (iss: string, sub: string, sid: string) => ({
  [`${CAEP}session-revoked`]: {
    subject: { user: { format: 'iss_sub', iss, sub }, session: { format: 'opaque', id: sid } },
    event_timestamp: Math.floor(Date.now() / 1000),
  },
})

/** What a receiver of `transmitter`'s SETs is given, subjects from `subjectIssuer`'s tokens. */
export function receiverOf(
  transmitter: TestTransmitter,
  subjectIssuer: string,
  revocation: RedisRevocation,
): SetReceiverOptions {
  return {
    issuer: transmitter.issuer,
    audience: transmitter.audience,
    algorithms: ['ES256'],
    jwks: transmitter.jwks,
    revocation,
    subjectIssuer,
  }
}
