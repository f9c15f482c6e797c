import type { Verifier } from '../verifier/create-verifier.js'
import type { SenderCheck } from './create-sender-check.js'

// The sender check of each verifier createVerifier made, kept out of the public Verifier
// interface: the authenticator finds its verifier's settings (DPoP options, issuers' modes) here.
const checks = new WeakMap<Verifier, SenderCheck>()

/** Records the sender check built from the same options as `verifier`. */
export function registerSenderCheck(verifier: Verifier, check: SenderCheck): void {
  checks.set(verifier, check)
}

/** The sender check of a verifier made by `createVerifier`, else `undefined`. */
export function senderCheckOf(verifier: Verifier): SenderCheck | undefined {
  return checks.get(verifier)
}
