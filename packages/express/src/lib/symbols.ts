/** The brand of a guard middleware, holding what `seal` needs to bind it to its routes. */
export const kGuardHandle = Symbol.for('portcullis.express.guard')

/** Marks an app `seal` has sealed. */
export const kSealed = Symbol.for('portcullis.express.sealed')
