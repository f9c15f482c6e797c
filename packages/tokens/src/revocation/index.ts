export {
  createRedisRevocation,
  type RedisRevocation,
  type RedisRevocationOptions,
  type RevocationTarget,
  type RevokeIssuedBeforeOptions,
} from './redis-revocation.js'
