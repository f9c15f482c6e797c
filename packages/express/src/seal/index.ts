export { sealApp, type SealContext } from './seal.js'
