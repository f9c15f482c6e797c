import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'

/**
 * The RFC 8705 §3.1 thumbprint of the client certificate on the request's TLS connection: the
 * base64url SHA-256 of its DER encoding, what `cnf["x5t#S256"]` holds. `null` without TLS or
 * without a client certificate.
 *
 * The TLS handshake proved the client holds the certificate's private key; whether a CA signed it
 * does not matter to the binding (RFC 8705 §3 allows self-signed client certificates).
 */
export function certificateThumbprint(message: IncomingMessage): string | null {
  const socket = message.socket as Partial<TLSSocket> | null
  if (socket?.encrypted !== true || typeof socket.getPeerX509Certificate !== 'function') return null
  // Read on every request, never cached per connection: a TLS 1.2 renegotiation can change the
  // certificate of a connection.
  const certificate = socket.getPeerX509Certificate()
  if (certificate === undefined) return null
  return createHash('sha256').update(certificate.raw).digest('base64url')
}
