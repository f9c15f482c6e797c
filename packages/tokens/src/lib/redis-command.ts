import type { TokensRedisClient } from '../options/tokens-options.js'

/**
 * Sends one command with a deadline. A client that is not connected fails at once instead of
 * queueing: ioredis's offline queue would hold every request of an outage in memory and answer
 * it late, after its deadline.
 */
export function redisCommand(
  client: TokensRedisClient,
  timeout: number,
  command: string,
  ...args: (string | number)[]
): Promise<unknown> {
  if (client.status !== 'ready') {
    return Promise.reject(new Error(`redis connection is ${client.status}`))
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(function redisDeadline() {
      reject(new Error(`redis did not answer ${command} within ${timeout} ms`))
    }, timeout)
    let reply: Promise<unknown>
    try {
      reply = client.call(command, ...args)
    } catch (err) {
      clearTimeout(timer)
      reject(err instanceof Error ? err : new Error(String(err)))
      return
    }
    reply.then(
      (reply) => {
        clearTimeout(timer)
        resolve(reply)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err instanceof Error ? err : new Error(String(err)))
      },
    )
  })
}
