/**
 * The events a Security Event Token carries (RFC 8417 §2.2), mapped to revocations: CAEP
 * `session-revoked` and `credential-change`, RISC `account-disabled` and `sessions-revoked`.
 * Framework-free and pure: the receiver verifies, this decides what the events mean.
 */

/** CAEP and RISC event types the receiver turns into revocations. */
export const SET_EVENT_TYPES = Object.freeze({
  sessionRevoked: 'https://schemas.openid.net/secevent/caep/event-type/session-revoked',
  credentialChange: 'https://schemas.openid.net/secevent/caep/event-type/credential-change',
  accountDisabled: 'https://schemas.openid.net/secevent/risc/event-type/account-disabled',
  sessionsRevoked: 'https://schemas.openid.net/secevent/risc/event-type/sessions-revoked',
})

/** What one event revokes: every token of a subject, a session or a client issued before a time. */
export interface SetRevocationAction {
  readonly kind: 'subject' | 'session' | 'client'
  /** The `iss` of the access tokens concerned. */
  readonly issuer: string
  /** The `sub`, `sid` or client id. */
  readonly id: string
  /** Seconds since the epoch: tokens with `iat` at or before it are refused. */
  readonly issuedBefore: number
  /** The event type it comes from. */
  readonly event: string
}

/** Why a SET's events cannot be acted upon (always an RFC 8935 `invalid_request`). */
export class SetEventError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SetEventError'
  }
}

type Identifier = { kind: 'subject' | 'session' | 'client'; issuer: string; id: string }

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value.length > 0

/**
 * One simple subject identifier (RFC 9493 §3): `iss_sub` names the access tokens' issuer itself;
 * `opaque` is an identifier at `subjectIssuer`. Other formats (`email`, `phone_number`, …) say
 * nothing about a token's `sub`, so they are refused rather than guessed.
 */
function simple(
  identifier: unknown,
  kind: Identifier['kind'],
  subjectIssuer: string,
): Identifier | undefined {
  if (!isObject(identifier)) return undefined
  if (identifier.format === 'iss_sub' && nonEmpty(identifier.iss) && nonEmpty(identifier.sub)) {
    return { kind, issuer: identifier.iss, id: identifier.sub }
  }
  if (identifier.format === 'opaque' && nonEmpty(identifier.id)) {
    return { kind, issuer: subjectIssuer, id: identifier.id }
  }
  return undefined
}

/**
 * The identifier an event acts upon. A complex subject (RFC 9493 §3.2.1 and the Shared Signals
 * members) names a `session` (its tokens, by `sid`), a `user` (every token of the subject) or an
 * `application` (the tokens of a client); `session-revoked` prefers the session, the other events
 * the user.
 */
function identifierOf(subject: unknown, eventType: string, subjectIssuer: string): Identifier {
  if (!isObject(subject)) throw new SetEventError('event has no subject (subject or sub_id)')
  const complex = subject.format === 'complex' || subject.format === undefined
  if (complex) {
    const user = simple(subject.user, 'subject', subjectIssuer)
    // An opaque session or application id belongs to the user's issuer when the user is named by
    // `iss_sub`: one identity provider's session of one of its users.
    const issuer = user?.issuer ?? subjectIssuer
    const session = simple(subject.session, 'session', issuer)
    const application = simple(subject.application, 'client', issuer)
    const order =
      eventType === SET_EVENT_TYPES.sessionRevoked
        ? [session, user, application]
        : [user, session, application]
    const found = order.find((candidate) => candidate !== undefined)
    if (found !== undefined) return found
    throw new SetEventError(
      'subject names no user, session or application in a supported format (iss_sub, opaque)',
    )
  }
  const found = simple(subject, 'subject', subjectIssuer)
  if (found === undefined) {
    throw new SetEventError(
      `subject format ${typeof subject.format === 'string' ? JSON.stringify(subject.format.slice(0, 40)) : ''} is not supported (iss_sub, opaque, complex)`,
    )
  }
  return found
}

const known = new Set<string>(Object.values(SET_EVENT_TYPES))

/**
 * The revocations a verified SET's claims ask for. Events of other types are ignored (RFC 8417
 * §2.2: a recipient acts on the events it understands). Throws {@link SetEventError} when a known
 * event is malformed or names a subject that cannot be mapped: then nothing is applied.
 */
export function revocationsOf(
  claims: Readonly<Record<string, unknown>>,
  subjectIssuer: string,
  now: number,
): SetRevocationAction[] {
  const { events } = claims
  if (!isObject(events) || Object.keys(events).length === 0) {
    throw new SetEventError('events must be a non-empty object (RFC 8417 §2.2)')
  }
  const iat = typeof claims.iat === 'number' ? claims.iat : now
  const actions: SetRevocationAction[] = []
  for (const [type, payload] of Object.entries(events)) {
    if (!isObject(payload)) throw new SetEventError('each event payload must be an object')
    if (!known.has(type)) continue
    // CAEP puts the subject in the event, Shared Signals 1.0 in the SET (`sub_id`).
    const { kind, issuer, id } = identifierOf(payload.subject ?? claims.sub_id, type, subjectIssuer)
    const at = payload.event_timestamp
    if (at !== undefined && (typeof at !== 'number' || !Number.isFinite(at))) {
      throw new SetEventError('event_timestamp must be a NumericDate')
    }
    // When the event happened, else when the SET was issued; never later than now: a token the
    // user obtains after the event (signing in again) passes.
    const issuedBefore = Math.floor(Math.min(at ?? iat, now))
    actions.push({ kind, issuer, id, issuedBefore, event: type })
  }
  return actions
}
