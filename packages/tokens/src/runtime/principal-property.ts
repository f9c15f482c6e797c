import type { Principal } from '@portcullis/core'

/** The accessors of `request.principal`, for `Object.defineProperty` or `decorateRequest`. */
export interface PrincipalAccessors<Request extends object> {
  readonly get: (this: Request) => Principal | null
  readonly set: (this: Request, value: unknown) => void
}

/**
 * `request.principal` reads what the runtime verified (`read`), held where application code
 * cannot write. An assignment (a legacy API-key hook, a test shortcut left in) is ignored and
 * logged once through `warn`: it can neither open a route nor show a handler another identity.
 * `name` is how the framework's users write it (`request.principal`, `req.principal`).
 */
export function principalAccessors<Request extends object>(
  read: (request: Request) => Principal | null,
  warn: (request: Request, message: string) => void,
  name: string,
): PrincipalAccessors<Request> {
  const assigned = `portcullis: ${name} was assigned by application code and ignored; it is the verified principal, set by Portcullis only`
  let warned = false
  return {
    get(this: Request) {
      return read(this)
    },
    set(this: Request) {
      if (warned) return
      warned = true
      warn(this, assigned)
    },
  }
}
