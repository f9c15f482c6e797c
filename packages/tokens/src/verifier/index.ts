export { createVerifier, type Verifier } from './create-verifier.js'
