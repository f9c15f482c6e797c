import { z } from 'zod'
import { integerIn, keySchema, positiveInteger, timeWindowSchema } from '../lib/schema-parts.js'

const NAME = /^[\x21-\x7e]{1,100}$/u

/** `guard.budget`. */
export const budgetSchema = z.strictObject(
  {
    name: z
      .string({ error: 'must be a string' })
      .regex(NAME, 'must be 1 to 100 printable ASCII characters without spaces')
      .optional(),
    unit: z.enum(['items', 'bytes'], { error: 'must be "items" or "bytes"' }),
    max: positiveInteger,
    timeWindow: timeWindowSchema,
    key: keySchema.optional(),
    byScope: z
      .record(z.string().min(1, 'must name a scope'), positiveInteger, {
        error: 'must be an object { scope: max }',
      })
      .refine((value) => Object.keys(value).length > 0, { error: 'must name at least one scope' })
      .optional(),
    overdraw: z.enum(['serve', 'refuse'], { error: 'must be "serve" or "refuse"' }).optional(),
    path: z
      .string({ error: 'must be a string' })
      .regex(
        /^(\[\]|[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*(\[\])?)$/u,
        "must name an array: 'items', 'data.results[]' or '[]'",
      )
      .optional(),
  },
  { error: 'must be an object { unit, max, timeWindow, ... }' },
)

/** The largest `maxDistinct`: sets are held exactly, so their size must stay bounded. */
export const MAX_DISTINCT = 100_000

const parameter = z
  .string({ error: 'must be a string' })
  .regex(/^[A-Za-z0-9_$-]{1,100}$/u, 'must name a parameter (letters, digits, _ $ -)')

/** `guard.enumeration`. */
export const enumerationSchema = z
  .strictObject(
    {
      param: parameter.optional(),
      query: parameter.optional(),
      maxDistinct: integerIn(1, MAX_DISTINCT),
      timeWindow: timeWindowSchema,
      key: keySchema.optional(),
    },
    { error: 'must be an object { param | query, maxDistinct, timeWindow }' },
  )
  .refine((value) => (value.param === undefined) !== (value.query === undefined), {
    error: 'needs exactly one of param (a route parameter) or query (a query parameter)',
  })

/** `rateLimit.lockout`. */
export const lockoutSchema = z.union(
  [
    z.strictObject({
      max: positiveInteger,
      timeWindow: timeWindowSchema,
      coolDown: timeWindowSchema,
    }),
    z.literal(false),
  ],
  { error: 'must be an object { max, timeWindow, coolDown } or false' },
)
