export {
  compileBodyRule,
  type BodyCheck,
  type CompileBodyRuleOptions,
  type CompiledBodyRule,
} from './compile-body-rule.js'
export { bodySpecSchema, type BodyRule, type BodySpec } from './body-spec.js'
