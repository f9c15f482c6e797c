export { SET_EVENT_TYPES, type SetRevocationAction } from './set-events.js'
export {
  createSetReceiver,
  type SetErrorCode,
  type SetOutcome,
  type SetPushAnswer,
  type SetReceiver,
  type SetReceiverOptions,
  type SetRevocations,
} from './set-receiver.js'
export {
  createSetPoller,
  type SetPoller,
  type SetPollerOptions,
  type SetPollResult,
} from './set-poller.js'
export { createSetPushHandler } from './set-push-handler.js'
export { setPushPlugin, type SetPushPluginOptions } from './set-push-plugin.js'
