export {
  errorCodes,
  isErrorCode,
  problemType,
  ERROR_DOCS_URL,
  type BearerErrorCode,
  type CodeOfKind,
  type DpopErrorCode,
  type ErrorCodeSpec,
  type ErrorKind,
  type PortcullisErrorCode,
} from './codes.js'
export {
  AuthenticationError,
  AuthorizationError,
  DependencyError,
  isPortcullisConfigError,
  isPortcullisError,
  PortcullisConfigError,
  PortcullisError,
  RateLimitError,
  RequestError,
  ResponseError,
  type ConfigErrorLocation,
  type DpopChallenge,
  type StepUpChallenge,
  type KindErrorConstructor,
  type PortcullisErrorOptions,
} from './portcullis-error.js'
export {
  fieldPath,
  invalidOptionsError,
  locateIssues,
  type LocatedIssue,
  type SchemaIssue,
  type UnknownKeyMessage,
} from './config-issues.js'
export { closestName } from './closest-name.js'
