import type { TLSSocket } from 'node:tls'
import type { IncomingMessage } from 'node:http'

/** An HTTP URI reduced to what a DPoP proof's `htu` is compared on: origin and path. */
export interface HttpTarget {
  /** Serialised origin, lower-case, default port dropped: `https://api.example.com`. */
  readonly origin: string
  /** Normalised path, without query and fragment. */
  readonly path: string
}

const UNRESERVED = /[A-Za-z0-9\-._~]/

// RFC 3986 §6.2.2.1 and §6.2.2.2: percent-encodings compare in upper case, and those of
// unreserved characters compare as the characters themselves.
function normalizePercentEncoding(path: string): string {
  return path.replace(/%[0-9A-Fa-f]{2}/g, (escape) => {
    const char = String.fromCharCode(parseInt(escape.slice(1), 16))
    return UNRESERVED.test(char) ? char : escape.toUpperCase()
  })
}

function targetOf(url: URL): HttpTarget | null {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null
  if (url.username !== '' || url.password !== '') return null
  // WHATWG URL parsing already lower-cases scheme and host, drops the default port and removes
  // dot segments (RFC 3986 §6.2.2.3, §6.2.3); query and fragment are ignored (RFC 9449 §4.3).
  return { origin: url.origin, path: normalizePercentEncoding(url.pathname) }
}

/** The `htu` of a proof, normalised (RFC 9449 §4.3 step 9), or `null` when it is no HTTP URI. */
export function parseHtu(htu: string): HttpTarget | null {
  let url: URL
  try {
    url = new URL(htu)
  } catch {
    return null
  }
  return targetOf(url)
}

/**
 * The origin the client addressed, as the connection shows it: `https:` on a TLS socket, else
 * `http:`, and the `Host` header (`:authority` in HTTP/2). `X-Forwarded-*` is never read: behind
 * a proxy, configure `dpop.origin`. `null` without a usable host.
 */
export function connectionOrigin(message: IncomingMessage): string | null {
  const host = message.headers.host ?? message.headers[':authority']
  if (typeof host !== 'string') return null
  const secure = (message.socket as TLSSocket | null)?.encrypted === true
  try {
    const url = new URL(`${secure ? 'https' : 'http'}://${host}`)
    // A Host header with a path, credentials or a query is no host.
    if (url.pathname !== '/' || url.username !== '' || url.search !== '' || url.hash !== '') {
      return null
    }
    return url.origin
  } catch {
    return null
  }
}

// What WHATWG URL percent-encodes in a path, among the printable ASCII a request target can hold:
// encoded here too, so that a raw path compares with a parsed `htu` naming the same characters.
const PATH_ENCODE_SET = /["<>`{}]/g

// RFC 9112 §3.2.2: absolute-form. The path starts after the authority, whatever it holds.
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/

/**
 * The path of a request target (origin-form or absolute-form) as the router sees it, for `htu`:
 * without query and fragment, percent-encodings normalised (RFC 3986 §6.2.2.1, §6.2.2.2), and
 * nothing else changed. Dot segments are not removed: the router serves `/v1/videos/%2e%2e` as
 * that path (`:id` = `..`), so no proof for `/v1/` (what resolving the dots would give) may pass
 * for it, and since a parsed `htu` never holds dot segments, a request path that holds them never
 * matches one. `null` for a target that is neither form or holds characters outside printable
 * ASCII.
 */
export function requestPath(target: string): string | null {
  let path: string
  if (target.startsWith('/')) {
    // Origin-form, read as is: `//host/x` is a path here, not another authority.
    path = target
  } else {
    const authority = ABSOLUTE_FORM.exec(target)
    if (authority === null) return null
    path = target.slice(authority[0].length)
  }
  const end = path.search(/[?#]/)
  if (end !== -1) path = path.slice(0, end)
  if (path === '') path = '/'
  if (!/^[\x21-\x7E]+$/.test(path)) return null
  // Lower-case hex here: normalizePercentEncoding upper-cases every escape it keeps.
  const encoded = path.replace(PATH_ENCODE_SET, (char) => `%${char.charCodeAt(0).toString(16)}`)
  return normalizePercentEncoding(encoded)
}
