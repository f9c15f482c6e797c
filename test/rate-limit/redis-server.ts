import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { connect, createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

const BINARY = 'redis-server'

/** True when `redis-server` runs on this machine. */
export const redisAvailable = spawnSync(BINARY, ['--version'], { stdio: 'ignore' }).status === 0

/**
 * Whether the Redis tests run: they are skipped without `redis-server`, unless
 * `PORTCULLIS_REQUIRE_REDIS=1` (CI), where a missing server fails them instead.
 */
export const runRedisTests = redisAvailable || process.env.PORTCULLIS_REQUIRE_REDIS === '1'

/** A free loopback port: redis-server cannot pick one itself (`--port 0` disables TCP). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port)
        else reject(new Error('no port'))
      })
    })
  })
}

/** Sends one inline command and resolves with the first reply line, or rejects. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    let reply = ''
    socket.setTimeout(1000, () => socket.destroy(new Error('redis did not answer')))
    socket.once('error', reject)
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8')
      if (reply.includes('\r\n')) {
        socket.end()
        resolve(reply.slice(0, reply.indexOf('\r\n')))
      }
    })
    socket.write(`${line}\r\n`)
  })
}

/** A throwaway redis-server on a loopback port, without persistence. */
export class RedisServer {
  private process: ChildProcess | undefined

  private constructor(readonly port: number) {}

  /** Starts a server on a free port and waits until it answers PING. */
  static async start(): Promise<RedisServer> {
    if (!redisAvailable) {
      throw new Error(
        `${BINARY} is not installed, and PORTCULLIS_REQUIRE_REDIS=1 requires the Redis tests to run`,
      )
    }
    const server = new RedisServer(await freePort())
    await server.restart()
    return server
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** (Re)starts the server on its port and waits until it answers. */
  async restart(): Promise<void> {
    if (this.process !== undefined) return
    const child = spawn(
      BINARY,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    )
    this.process = child
    child.once('exit', () => {
      if (this.process === child) this.process = undefined
    })
    for (let attempt = 0; attempt < 100; attempt++) {
      if (this.process !== child) throw new Error(`${BINARY} exited on port ${this.port}`)
      const pong = await command(this.port, 'PING').catch(() => '')
      if (pong === '+PONG') return
      await sleep(20)
    }
    throw new Error(`${BINARY} did not answer on port ${this.port}`)
  }

  /** Stops the server (as a crash would) and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.process
    if (child === undefined) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  /** Sends one command, e.g. `FLUSHALL` or `CLIENT PAUSE 2000`; resolves with the reply line. */
  send(line: string): Promise<string> {
    return command(this.port, line)
  }
}
