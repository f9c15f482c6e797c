export { sealApp } from './seal.js'
