export { createGuard, type Guard } from './create-guard.js'
export type { Authentication } from './authenticate.js'
