import { createHmac, timingSafeEqual } from 'node:crypto'

/** Server nonces for DPoP proofs (RFC 9449 §9), stateless so that instances can share them. */
export interface DpopNonces {
  /** The nonce to hand out now (`DPoP-Nonce`); the same for every call within a time step. */
  current(): string
  /** Whether a proof's `nonce` claim is one this server (or an instance sharing the key) issued less than `lifetime` seconds ago. */
  accepts(nonce: unknown): boolean
}

const MAC_BYTES = 16
const NONCE = /^(\d{1,12})\.([A-Za-z0-9_-]{22})$/

/**
 * Creates the nonce source: a nonce is its issue time (seconds, rounded down to a quarter of the
 * lifetime) and an HMAC-SHA-256 of it under `secret`, so any instance holding the key can check
 * it without shared state, and a client cannot mint one.
 */
export function createDpopNonces(options: { secret: Uint8Array; lifetime: number }): DpopNonces {
  const { secret, lifetime } = options
  const step = Math.max(1, Math.floor(lifetime / 4))
  let issued: { readonly at: number; readonly nonce: string } | undefined

  function mac(at: number): Buffer {
    return createHmac('sha256', secret).update(String(at)).digest().subarray(0, MAC_BYTES)
  }

  function current(): string {
    const now = Math.floor(Date.now() / 1000)
    const at = now - (now % step)
    if (issued?.at !== at) issued = { at, nonce: `${at}.${mac(at).toString('base64url')}` }
    return issued.nonce
  }

  function accepts(nonce: unknown): boolean {
    if (typeof nonce !== 'string') return false
    const match = NONCE.exec(nonce)
    if (match === null) return false
    const at = Number(match[1])
    const now = Math.floor(Date.now() / 1000)
    // A nonce from the future was never issued (one step of skew between instances allowed); one
    // older than `lifetime` has expired.
    if (at > now + step || now - at > lifetime) return false
    return timingSafeEqual(Buffer.from(match[2] ?? '', 'base64url'), mac(at))
  }

  return Object.freeze({ current, accepts })
}
