export { createIntrospector, type Introspector } from './introspector.js'
