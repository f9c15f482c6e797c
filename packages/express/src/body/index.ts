export { planGuardBody, type BoundBody, type GuardBody } from './body-guard.js'
