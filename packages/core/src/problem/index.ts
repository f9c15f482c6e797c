export {
  renderProblem,
  type ProblemBody,
  type RenderedProblem,
  type RenderProblemOptions,
} from './render-problem.js'
export { formatChallenge, type ChallengeParams } from './www-authenticate.js'
