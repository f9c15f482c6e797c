import type { FastifyInstance } from 'fastify'
import { expectTypeOf } from 'vitest'
import type { RedisRevocation, RevokeIssuedBeforeOptions } from '../revocation/index.js'
import type { SetErrorCode, SetOutcome, SetRevocations } from './set-receiver.js'
import { setPushPlugin, type SetPushPluginOptions } from './set-push-plugin.js'

// The revocation list is a SET receiver's target as it is.
expectTypeOf<RedisRevocation>().toExtend<SetRevocations>()

// issuedBefore: a Date or seconds, optional.
expectTypeOf<RevokeIssuedBeforeOptions>().toEqualTypeOf<{ issuedBefore?: Date | number }>()
expectTypeOf<RedisRevocation['revokeSubject']>().parameters.toEqualTypeOf<
  [issuer: string, subject: string, options?: RevokeIssuedBeforeOptions]
>()

// The outcome narrows on status: only a 400 carries an RFC 8935 error.
declare const outcome: SetOutcome
if (outcome.status === 400) expectTypeOf(outcome.err).toEqualTypeOf<SetErrorCode>()
if (outcome.status === 202) expectTypeOf(outcome.jti).toEqualTypeOf<string>()
// @ts-expect-error a 503 has no err
if (outcome.status === 503) void outcome.err

// The push plugin registers with its options checked.
declare const app: FastifyInstance
declare const options: SetPushPluginOptions
void app.register(setPushPlugin, options)
// @ts-expect-error the guard is required
void app.register(setPushPlugin, { receiver: options.receiver })
