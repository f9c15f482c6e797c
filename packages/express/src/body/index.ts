export { bodyStep, type BodyStep } from './body-guard.js'
