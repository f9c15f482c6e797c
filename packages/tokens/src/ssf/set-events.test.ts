import { describe, expect, it } from 'vitest'
import { revocationsOf, SET_EVENT_TYPES, SetEventError } from './set-events.js'

const IDP = 'https://idp.test'
const NOW = 1_800_000_000

const set = (events: Record<string, unknown>, claims: Record<string, unknown> = {}) => ({
  iat: NOW - 10,
  events,
  ...claims,
})

describe('revocationsOf', () => {
  it('maps each supported event and subject format', () => {
    const issSub = { format: 'iss_sub', iss: 'https://auth.test', sub: 'alice' }
    expect(
      revocationsOf(
        set({
          [SET_EVENT_TYPES.credentialChange]: { subject: issSub, event_timestamp: NOW - 100 },
          [SET_EVENT_TYPES.accountDisabled]: { subject: { format: 'opaque', id: 'bob' } },
          [SET_EVENT_TYPES.sessionsRevoked]: { subject: { user: issSub } },
          [SET_EVENT_TYPES.sessionRevoked]: {
            subject: { user: issSub, session: { format: 'opaque', id: 's-1' } },
          },
        }),
        IDP,
        NOW,
      ),
    ).toEqual([
      {
        kind: 'subject',
        issuer: 'https://auth.test',
        id: 'alice',
        issuedBefore: NOW - 100,
        event: SET_EVENT_TYPES.credentialChange,
      },
      {
        kind: 'subject',
        issuer: IDP,
        id: 'bob',
        issuedBefore: NOW - 10,
        event: SET_EVENT_TYPES.accountDisabled,
      },
      {
        kind: 'subject',
        issuer: 'https://auth.test',
        id: 'alice',
        issuedBefore: NOW - 10,
        event: SET_EVENT_TYPES.sessionsRevoked,
      },
      // The session's opaque id belongs to the user's issuer.
      {
        kind: 'session',
        issuer: 'https://auth.test',
        id: 's-1',
        issuedBefore: NOW - 10,
        event: SET_EVENT_TYPES.sessionRevoked,
      },
    ])
  })

  it('session-revoked prefers the session, the others the user; an application is a client', () => {
    const subject = {
      user: { format: 'opaque', id: 'u' },
      session: { format: 'opaque', id: 's' },
    }
    const kinds = (type: string, s: unknown) =>
      revocationsOf(set({ [type]: { subject: s } }), IDP, NOW).map((a) => [a.kind, a.id])
    expect(kinds(SET_EVENT_TYPES.sessionRevoked, subject)).toEqual([['session', 's']])
    expect(kinds(SET_EVENT_TYPES.credentialChange, subject)).toEqual([['subject', 'u']])
    expect(
      kinds(SET_EVENT_TYPES.accountDisabled, {
        format: 'complex',
        application: { format: 'opaque', id: 'batch' },
      }),
    ).toEqual([['client', 'batch']])
  })

  it('takes the Shared Signals sub_id; never an issuedBefore later than now', () => {
    const [action] = revocationsOf(
      set(
        { [SET_EVENT_TYPES.accountDisabled]: { event_timestamp: NOW + 3600 } },
        { sub_id: { format: 'opaque', id: 'carol' } },
      ),
      IDP,
      NOW,
    )
    expect(action).toMatchObject({ kind: 'subject', id: 'carol', issuedBefore: NOW })
  })

  it('ignores events of other types', () => {
    expect(revocationsOf(set({ 'https://example.test/event': {} }), IDP, NOW)).toEqual([])
  })

  it.each([
    ['no events', { iat: NOW }],
    ['events not an object', set({}, { events: 'x' })],
    ['empty events', set({})],
    ['a payload that is not an object', set({ [SET_EVENT_TYPES.accountDisabled]: 'x' })],
    ['no subject', set({ [SET_EVENT_TYPES.accountDisabled]: {} })],
    [
      'an email subject',
      set({
        [SET_EVENT_TYPES.accountDisabled]: { subject: { format: 'email', email: 'a@b.test' } },
      }),
    ],
    [
      'an iss_sub without sub',
      set({ [SET_EVENT_TYPES.accountDisabled]: { subject: { format: 'iss_sub', iss: IDP } } }),
    ],
    [
      'an empty opaque id',
      set({ [SET_EVENT_TYPES.accountDisabled]: { subject: { format: 'opaque', id: '' } } }),
    ],
    [
      'a complex subject with nothing known',
      set({
        [SET_EVENT_TYPES.sessionRevoked]: { subject: { device: { format: 'opaque', id: 'd' } } },
      }),
    ],
    [
      'a non-numeric event_timestamp',
      set({
        [SET_EVENT_TYPES.accountDisabled]: {
          subject: { format: 'opaque', id: 'x' },
          event_timestamp: '1',
        },
      }),
    ],
  ])('refuses %s, so that nothing of the SET is applied', (_case, claims) => {
    expect(() => revocationsOf(claims, IDP, NOW)).toThrow(SetEventError)
  })
})
