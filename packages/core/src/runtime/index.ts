export {
  andThen,
  CALLBACK_TIMEOUT_MS,
  deadline,
  settle,
  type Answer,
  type Pending,
} from './answer.js'
export {
  emitAudit,
  logs,
  problemBytes,
  refuse,
  reportDenial,
  type AuditDetails,
  type DecisionContext,
} from './decisions.js'
export { createRedisGate, type GatedClient, type RedisGate } from './redis-gate.js'
export type { GuardLogger, RequestView } from './request-view.js'
export {
  errorProblem,
  errorStatus,
  statusProblem,
  writeProblem,
  type ProblemToWrite,
} from './node-response.js'
export {
  answerUnknownRoute,
  COUNTED_DENIALS,
  runSteps,
  type DenialWatch,
  type Egress,
  type Meter,
  type RouteSteps,
  type Step,
} from './steps.js'
