// Compile-only: an ioredis Cluster is accepted wherever a Redis client is (rate limits, the
// revocation list, the DPoP replay cache), on Fastify and Express alike.
import type { PortcullisExpressOptions } from '@portcullis/express'
import type { PortcullisOptions } from '@portcullis/fastify'
import type { RateLimitOptions, RedisClient } from '@portcullis/rate-limit'
import {
  createRedisRevocation,
  type RedisRevocationOptions,
  type TokensDpopOptions,
  type TokensRedisClient,
} from '@portcullis/tokens'
import type { Cluster, Redis } from 'ioredis'
import { expectTypeOf } from 'vitest'

declare const cluster: Cluster
declare const single: Redis

expectTypeOf(cluster).toExtend<RedisClient>()
expectTypeOf(cluster).toExtend<TokensRedisClient>()
expectTypeOf(single).toExtend<RedisClient>()
expectTypeOf({ max: 100, timeWindow: '1 minute', redis: cluster }).toExtend<RateLimitOptions>()
expectTypeOf({ replay: { redis: cluster } }).toExtend<TokensDpopOptions>()
expectTypeOf({ redis: cluster }).toExtend<RedisRevocationOptions>()
expectTypeOf(createRedisRevocation).toBeCallableWith({ redis: cluster })
expectTypeOf<{ redis: Cluster; max: number; timeWindow: string }>().toExtend<
  NonNullable<PortcullisOptions['rateLimit']>
>()
expectTypeOf<{ redis: Cluster; max: number; timeWindow: string }>().toExtend<
  NonNullable<PortcullisExpressOptions['rateLimit']>
>()
// Something that is neither is refused.
expectTypeOf({
  max: 1,
  timeWindow: '1s',
  redis: { status: 'ready' },
}).not.toExtend<RateLimitOptions>()
