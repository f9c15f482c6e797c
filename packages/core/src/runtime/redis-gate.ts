/** The part of an ioredis client (`Redis` or `Cluster`) the gate reads. */
export interface GatedClient {
  readonly status: string
}

/** Sends commands to one Redis with a deadline each; see {@link createRedisGate}. */
export interface RedisGate {
  /** Runs `send` (one command or script) within the deadline, or fails at once (see below). */
  run<T>(send: () => Promise<T>): Promise<T>
}

/**
 * The one deadline every Redis command of the guard runs under (rate-limit counts, revocations,
 * DPoP replay), with what an outage needs around it:
 *
 * - a client that is not connected fails at once instead of queueing: ioredis's offline queue
 *   would hold every request of an outage in memory and answer it late, after its deadline;
 * - a connected Redis that stops answering (paused, frozen, a network black hole) is the same
 *   outage with the connection still up: while a command is past its deadline without an answer,
 *   commands fail at once and at most one probe per `timeout` is sent. Otherwise every request
 *   of the stall would add a command to the client's queue (memory) and to the backlog Redis runs
 *   when it wakes up.
 */
export function createRedisGate(client: GatedClient, timeout: number): RedisGate {
  let stalled = 0
  let lastProbe = 0

  function run<T>(send: () => Promise<T>): Promise<T> {
    if (client.status !== 'ready') {
      return Promise.reject(new Error(`redis connection is ${client.status}`))
    }
    if (stalled > 0) {
      const now = Date.now()
      if (now - lastProbe < timeout) {
        return Promise.reject(
          new Error(`redis has not answered ${stalled} command(s) past ${timeout} ms`),
        )
      }
      lastProbe = now
    }
    return new Promise<T>((resolve, reject) => {
      let pending = true
      const timer = setTimeout(function redisDeadline() {
        pending = false
        if (stalled++ === 0) lastProbe = Date.now()
        reject(new Error(`redis did not answer within ${timeout} ms`))
      }, timeout)
      function answered(): boolean {
        if (!pending) {
          // A late answer: Redis is moving again.
          if (stalled > 0) stalled--
          return false
        }
        pending = false
        clearTimeout(timer)
        stalled = 0
        return true
      }
      let reply: Promise<T>
      try {
        reply = send()
      } catch (err) {
        pending = false
        clearTimeout(timer)
        reject(err instanceof Error ? err : new Error(String(err)))
        return
      }
      reply.then(
        (value) => {
          if (answered()) resolve(value)
        },
        (err: unknown) => {
          if (answered()) reject(err instanceof Error ? err : new Error(String(err)))
        },
      )
    })
  }

  return Object.freeze({ run })
}
