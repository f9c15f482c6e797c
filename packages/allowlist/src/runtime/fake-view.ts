import type { RequestView } from '@portcullis/core/internal'

/**
 * A request view for the unit tests of the response and body rules (test-only: nothing the
 * package builds imports it): an authenticated, anonymous `GET /videos`; `fields` replace what a
 * test needs.
 */
export function fakeView(fields: Partial<Record<keyof RequestView, unknown>> = {}): RequestView {
  return {
    method: 'GET',
    route: '/videos',
    message: {},
    url: '/videos',
    ip: undefined,
    requestId: null,
    log: { info() {}, warn() {}, error() {} },
    native: {},
    queryTokenAllowed: () => false,
    dpopRequired: () => false,
    setHeader() {},
    start: 0,
    principal: null,
    authenticated: true,
    dpop: undefined,
    ...fields,
  } as unknown as RequestView
}
