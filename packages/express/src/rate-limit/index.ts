export {
  createRouteLimiter,
  type LimitedRoute,
  type LimiterRuntime,
  type RouteLimiter,
} from './route-limiter.js'
export { isCallable, memoryStores, redisStores, type CallableRedis, type Stores } from './stores.js'
