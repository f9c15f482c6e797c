/** When the first Portcullis hook saw the request (`performance.now()`), for audit latency. */
export const kGuardStart = Symbol.for('portcullis.guardStart')

/** The DPoP challenge for a refusal of this request (RFC 9449 §7.1), or `null` for plain Bearer. */
export const kDpopChallenge = Symbol.for('portcullis.dpopChallenge')
