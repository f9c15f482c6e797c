export {
  serializeRequest,
  type LoggedRequest,
  type SerializedRequest,
} from './serialize-request.js'
