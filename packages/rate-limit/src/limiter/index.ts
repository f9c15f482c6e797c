export { keyOf, ipKey, type KeyedRequest, type KeyOf } from './request-keys.js'
export { maxOf, type LimitSpec, type ResolvedOverride } from './limit-spec.js'
export {
  keyFailure,
  setLimitHeaders,
  rateLimited,
  storeAnswered,
  storeFailure,
  storeUnavailable,
  type LimiterLog,
  type StoreHealth,
} from './limit-outcomes.js'
