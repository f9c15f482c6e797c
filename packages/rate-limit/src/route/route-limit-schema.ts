import { z } from 'zod'
import { keySchema, positiveInteger, timeWindowSchema } from '../lib/schema-parts.js'

const nonEmptyList = z
  .array(
    z
      .string({ error: 'must be a string' })
      .regex(/^\S+$/u, 'must be a non-empty string without spaces'),
    { error: 'must be an array' },
  )
  .min(1, 'must list at least one')

const overrideSchema = z.strictObject(
  {
    when: z
      .strictObject(
        { callers: nonEmptyList.optional(), scopes: nonEmptyList.optional() },
        { error: 'must be an object { callers?, scopes? }' },
      )
      .refine((when) => when.callers !== undefined || when.scopes !== undefined, {
        error: 'needs callers or scopes: an override for everyone is just max',
      }),
    max: positiveInteger,
  },
  { error: 'must be an object { when, max }' },
)

/** `guard.rateLimit` as a limit. */
export const routeLimitSchema = z.strictObject({
  max: positiveInteger,
  timeWindow: timeWindowSchema,
  key: keySchema.optional(),
  bucket: z
    .string({ error: 'must be a string' })
    .regex(/^[\x21-\x7e]{1,100}$/u, 'must be 1 to 100 printable ASCII characters without spaces')
    .optional(),
  overrides: z
    .array(overrideSchema, { error: 'must be an array' })
    .min(1, 'must list at least one override')
    .optional(),
})

/** `guard.rateLimit` as an exemption. */
export const exemptSchema = z.strictObject({
  exempt: z
    .string({ error: 'must be a string giving the reason this route is not rate limited' })
    .trim()
    .min(1, 'must be a non-empty reason (it shows in the route inventory)')
    .max(500, 'must be at most 500 characters'),
})
