import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { request as httpsRequest } from 'node:https'

// X.509 certificates for the mTLS suites (RFC 8705), made by the tests themselves: Node has no API
// to make certificates, so this writes a few lines of DER, signed with node:crypto by a small CA
// of the test's own. Nothing outside Node is needed.

// --- A minimal DER writer (X.690), enough for v3 certificates without extensions ---

function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts)
  const length =
    body.length < 0x80
      ? Buffer.from([body.length])
      : body.length < 0x100
        ? Buffer.from([0x81, body.length])
        : Buffer.from([0x82, body.length >> 8, body.length & 0xff])
  return Buffer.concat([Buffer.from([tag]), length, body])
}
const sequence = (...parts: Buffer[]): Buffer => der(0x30, ...parts)
const set = (...parts: Buffer[]): Buffer => der(0x31, ...parts)
function integer(bytes: Buffer): Buffer {
  // A positive INTEGER in its shortest form (X.690 §8.3.2: no leading zero octet unless the next
  // has its high bit set, which a positive number then needs). A random serial starting with a
  // zero octet was encoded as is, and OpenSSL refused the certificate ("illegal padding").
  let start = 0
  while (start < bytes.length - 1 && bytes[start] === 0) start++
  const value = bytes.subarray(start)
  return der(0x02, (value[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value)
}
function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number)
  const bytes = [first * 40 + second]
  for (const arc of rest) {
    const chunk = [arc & 0x7f]
    for (let value = arc >> 7; value > 0; value >>= 7) chunk.unshift((value & 0x7f) | 0x80)
    bytes.push(...chunk)
  }
  return der(0x06, Buffer.from(bytes))
}
const utf8 = (text: string): Buffer => der(0x0c, Buffer.from(text, 'utf8'))
function utcTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'
  return der(0x17, Buffer.from(text, 'ascii'))
}
const bitString = (bytes: Buffer): Buffer => der(0x03, Buffer.from([0]), bytes)

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'))
const commonName = (cn: string): Buffer => sequence(set(sequence(oid('2.5.4.3'), utf8(cn))))

export interface Identity {
  readonly key: KeyObject
  readonly keyPem: string
  readonly certPem: string
  /** RFC 8705 §3.1: base64url SHA-256 of the certificate's DER, what cnf["x5t#S256"] holds. */
  readonly thumbprint: string
}

/** A P-256 key and a certificate for `cn`, signed by `issuer` (self-signed without one). */
export function identity(cn: string, issuer?: { cn: string; key: KeyObject }): Identity {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const now = Date.now()
  const tbs = sequence(
    der(0xa0, integer(Buffer.from([2]))), // [0] version: v3
    integer(randomBytes(8)),
    ECDSA_WITH_SHA256,
    commonName(issuer?.cn ?? cn),
    sequence(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 86_400_000))),
    commonName(cn),
    publicKey.export({ type: 'spki', format: 'der' }),
  )
  const signature = sign('sha256', tbs, issuer?.key ?? privateKey)
  const certificate = sequence(tbs, ECDSA_WITH_SHA256, bitString(signature))
  const lines = certificate.toString('base64').match(/.{1,64}/g) ?? []
  const certPem = `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`
  return {
    key: privateKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem,
    thumbprint: createHash('sha256').update(certificate).digest('base64url'),
  }
}

/** An HTTPS answer, read whole. */
export interface HttpsAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/**
 * One HTTPS GET to `127.0.0.1:port` on its own connection (so each request has its own TLS
 * handshake), presenting `client`'s certificate, or none.
 */
export function httpsGet(
  port: number,
  path: string,
  headers: Record<string, string>,
  client?: Identity,
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        headers,
        agent: false,
        rejectUnauthorized: false,
        ...(client === undefined ? {} : { key: client.keyPem, cert: client.certPem }),
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.once('error', reject)
    req.end()
  })
}
