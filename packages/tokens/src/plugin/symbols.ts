/** When the first Portcullis hook saw the request (`performance.now()`), for audit latency. */
export const kGuardStart = Symbol.for('portcullis.guardStart')
