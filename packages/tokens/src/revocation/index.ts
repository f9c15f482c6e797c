export {
  createRedisRevocation,
  type RedisRevocation,
  type RedisRevocationOptions,
  type RevocationTarget,
} from './redis-revocation.js'
