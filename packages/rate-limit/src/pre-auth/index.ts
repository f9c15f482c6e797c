export { createPreAuthLimiter, preAuthOf, withoutPreAuth } from './create-pre-auth-limiter.js'
