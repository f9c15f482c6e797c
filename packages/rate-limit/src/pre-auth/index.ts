export { createPreAuthLimiter } from './create-pre-auth-limiter.js'
