import { z } from 'zod'

const reason = z
  .string({ error: 'must be a string giving the reason this route needs no token' })
  .trim()
  .min(1, { error: 'must be a non-empty reason (it shows in the route inventory)' })
  .max(500, { error: 'must be at most 500 characters' })

/**
 * The zod schema of `config.guard` as far as `@portcullis/policy` enforces it. Unknown keys are
 * refused: a misspelled requirement must never be read as "no requirement".
 */
export const routeGuardSchema = z
  .object(
    {
      public: reason.optional(),
      authenticated: z.literal(true, { error: 'must be `true` when present' }).optional(),
    },
    { error: 'must be an object (a route guard)' },
  )
  .strict()

/** A guard as validated by {@link routeGuardSchema}. */
export type ParsedRouteGuard = z.infer<typeof routeGuardSchema>
