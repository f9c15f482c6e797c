export { createGuard, type Guard } from './create-guard.js'
