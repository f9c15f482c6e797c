import { PortcullisConfigError } from './portcullis-error.js'

/**
 * One validation issue, in the shape zod reports it. Structural, so `@portcullis/core` needs no
 * schema library; the packages that validate with zod pass their issues straight in.
 */
export interface SchemaIssue {
  readonly code: string
  readonly path: readonly PropertyKey[]
  readonly message: string
  /** Unknown keys, for `unrecognized_keys`. */
  readonly keys?: readonly string[]
  /** Each branch's issues, for `invalid_union`. */
  readonly errors?: readonly (readonly SchemaIssue[])[]
}

/** An issue located at a dotted field path such as `tokens.issuers[0].audience`. */
export interface LocatedIssue {
  readonly field: string
  readonly message: string
}

/** Joins a prefix and a path: `fieldPath('tokens', ['issuers', 0, 'jwksUri'])`. */
export function fieldPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out === '' ? String(part) : `.${String(part)}`
  }
  return out
}

/**
 * What an unknown key's message says: a fixed text, or one built for the key and the path of the
 * object holding it (to suggest the key that was meant).
 */
export type UnknownKeyMessage = string | ((key: string, path: readonly PropertyKey[]) => string)

/**
 * Turns validation issues into messages that name the field. An unknown key is named itself
 * (`guard.scopez`); a failed union reports the branch that got furthest, which says what is
 * actually wrong rather than "no branch matched".
 */
export function locateIssues(
  issues: readonly SchemaIssue[],
  prefix: string,
  unknownKeyMessage: UnknownKeyMessage = 'is not a known option',
  base: readonly PropertyKey[] = [],
): LocatedIssue[] {
  return issues.flatMap((issue): LocatedIssue[] => {
    const path = [...base, ...issue.path]
    if (issue.code === 'unrecognized_keys' && issue.keys !== undefined) {
      return issue.keys.map((key) => ({
        field: fieldPath(prefix, [...path, key]),
        message:
          typeof unknownKeyMessage === 'string' ? unknownKeyMessage : unknownKeyMessage(key, path),
      }))
    }
    if (issue.code === 'invalid_union' && issue.errors !== undefined) {
      const branch = issue.errors.find(
        (inner) => inner.length > 0 && inner.every((i) => i.path.length > 0),
      )
      if (branch !== undefined) return locateIssues(branch, prefix, unknownKeyMessage, path)
    }
    return [{ field: fieldPath(prefix, path), message: issue.message }]
  })
}

/**
 * The `PCL_INVALID_OPTIONS` error for failed options validation: the message lists the first
 * few bad fields (`tokens.issuers[0].algorithms: is required`), `field` is the first.
 */
export function invalidOptionsError(
  issues: readonly SchemaIssue[],
  prefix: string,
  cause?: unknown,
): PortcullisConfigError {
  const located = locateIssues(issues, prefix)
  const first = located[0]
  const message = located
    .slice(0, 5)
    .map(({ field, message: text }) => `${field}: ${text}`)
    .join('; ')
  return new PortcullisConfigError('PCL_INVALID_OPTIONS', `portcullis options: ${message}`, {
    ...(first === undefined ? {} : { field: first.field }),
    cause,
  })
}
