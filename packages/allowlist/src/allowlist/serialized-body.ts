import { ResponseError } from '@portcullis/core'

// RFC 8259 §11 and RFC 6839 §3.1: application/json and every +json media type (problem+json).
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/iu

/** True when a `Content-Type` header value is JSON (`application/json`, `application/*+json`). */
export function isJsonType(contentType: unknown): boolean {
  return typeof contentType === 'string' && JSON_TYPE.test(contentType)
}

/**
 * The error for a payload the guard cannot inspect (a stream, non-JSON content, a body above
 * `maxBodyBytes`, JSON that does not parse): a 500 `PCL_RESPONSE_REJECTED`, never the payload.
 */
export function uninspectableError(what: string, cause?: unknown): ResponseError {
  const message = `A response the guard cannot inspect (${what}) on an allowlisted route`
  return new ResponseError(
    'PCL_RESPONSE_REJECTED',
    cause === undefined ? { message } : { message, cause },
  )
}

/** A body already serialized by the application, as the guard reads it. */
export type SerializedBody =
  | { readonly kind: 'empty' }
  | { readonly kind: 'json'; readonly value: unknown }
  | { readonly kind: 'uninspectable'; readonly error: ResponseError }

const EMPTY: SerializedBody = Object.freeze({ kind: 'empty' })

/**
 * Reads a body the application serialized itself (a JSON string or Buffer sent as is), the same
 * way in every adapter: empty bodies pass; anything but JSON of at most `maxBodyBytes` bytes, as
 * its `Content-Type` says, is uninspectable and so refused.
 */
export function readSerializedBody(
  payload: string | Uint8Array,
  contentType: unknown,
  maxBodyBytes: number,
): SerializedBody {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
  if (length === 0) return EMPTY
  if (length > maxBodyBytes) {
    return {
      kind: 'uninspectable',
      error: uninspectableError(`a body above maxBodyBytes (${maxBodyBytes})`),
    }
  }
  if (!isJsonType(contentType)) {
    return { kind: 'uninspectable', error: uninspectableError('not JSON') }
  }
  try {
    const text =
      typeof payload === 'string'
        ? payload
        : Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8')
    return { kind: 'json', value: JSON.parse(text) as unknown }
  } catch (cause) {
    return {
      kind: 'uninspectable',
      error: uninspectableError('JSON that does not parse', cause),
    }
  }
}
