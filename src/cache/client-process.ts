import * as core from '@actions/core'
import { spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { ClientMessage, ClientReply, ClientRequest, Pending } from './client-protocol.js'
import { TimeoutError } from '../time-limit.js'
import { overdue, type Bounds } from './deadline.js'

export interface ClientPlace {
  /** The client's working directory and workspace: the paths it is given are relative to it. */
  workRoot: string
  /** Its RUNNER_TEMP, where it makes its archive. */
  temp: string
  /** The environment it starts from (the step's, never modified). */
  env: NodeJS.ProcessEnv
}

export interface ClientOutcome {
  reply: ClientReply
  /** What the client warned about, in its own words, to be said once by the caller. */
  warnings: string[]
}

const CHECK_EVERY_MS = 250

/**
 * The cache client's bundle: dist/cache-client/index.js beside the running
 * step's bundle (dist/main, dist/post). Found from the entry script rather
 * than this module, which the bundler inlines into each step's bundle.
 */
export function clientScript(entry: string = process.argv[1] ?? ''): string {
  return path.join(path.dirname(path.dirname(path.resolve(entry))), 'cache-client', 'index.js')
}

/**
 * Runs one request in a cache client process of its own and waits for its
 * reply, for as long as the service keeps answering and data keeps moving.
 * Past a bound (or when `signal` aborts), the client and everything it
 * started are killed and this rejects with a TimeoutError saying why: no
 * request is left running, and nothing in this process was ever changed.
 */
export async function runClient(
  request: ClientRequest,
  place: ClientPlace,
  bounds: Bounds,
  signal?: AbortSignal,
  script: string = clientScript()
): Promise<ClientOutcome> {
  signal?.throwIfAborted()
  // Node would name the missing module in a stack trace and end with its own version.
  if (!fs.existsSync(script))
    return {
      reply: { kind: 'refused', message: `the cache client ${script} is missing: the action's dist/ is incomplete` },
      warnings: []
    }
  const child = spawn(process.execPath, [script], {
    cwd: place.workRoot,
    env: { ...place.env, RUNNER_TEMP: place.temp, GITHUB_WORKSPACE: place.workRoot },
    // Its own process group, so that the archiver it runs dies with it.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc']
  })
  const warnings: string[] = []
  const forward = lineForwarder(warnings)
  child.stdout?.on('data', forward.data)
  child.stderr?.on('data', forward.data)

  let pending: Pending[] = []
  let lastHeard = Date.now()
  let reply: ClientReply | undefined
  child.on('message', raw => {
    const message = raw as ClientMessage
    lastHeard = Date.now()
    if (message.type === 'activity') pending = message.pending
    else reply = message.reply
  })

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve => {
    child.once('close', (code, sig) => resolve({ code, signal: sig }))
    child.once('error', () => resolve({ code: null, signal: null }))
  })
  let abandoned: Error | undefined
  const abandon = (reason: Error): void => {
    if (abandoned) return
    abandoned = reason
    forward.stop()
    kill(child)
  }
  const onAbort = (): void =>
    abandon(signal?.reason instanceof Error ? signal.reason : new TimeoutError('The cache call was cancelled'))
  signal?.addEventListener('abort', onAbort, { once: true })
  const watch = setInterval(() => {
    const why = overdue(pending, (Date.now() - lastHeard) / 1000, bounds)
    if (why) abandon(new TimeoutError(why))
  }, CHECK_EVERY_MS)

  child.send(request)
  const { code, signal: killedBy } = await exited
  clearInterval(watch)
  signal?.removeEventListener('abort', onAbort)
  forward.flush()
  if (abandoned) throw abandoned
  if (!reply) {
    const how = killedBy ? `was killed by ${killedBy}` : `exited with code ${code ?? 'unknown'}`
    const said = forward.lastLine()
    return { reply: { kind: 'refused', message: `the cache client ${how}${said ? `: ${said}` : ''}` }, warnings }
  }
  return { reply, warnings }
}

function kill(child: ChildProcess): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    child.kill('SIGKILL')
  }
}

const COMMAND = /^::(warning|error)(?: [^:]*)?::(.*)$/

/**
 * The client's output goes into the step's log line by line as it comes,
 * except its warnings and errors, which are kept for the caller to say once
 * in its own warning (a cache problem never fails the job, so never is an
 * error). Once the client is abandoned, nothing more of it is printed.
 */
function lineForwarder(warnings: string[]): {
  data: (chunk: Buffer) => void
  flush: () => void
  stop: () => void
  lastLine: () => string
} {
  let partial = ''
  let stopped = false
  let last = ''
  const line = (text: string): void => {
    const command = COMMAND.exec(text)
    if (command) warnings.push(unescapeData(command[2]))
    else core.info(text)
    if (text.trim()) last = text.trim()
  }
  return {
    data: chunk => {
      if (stopped) return
      const lines = (partial + chunk.toString('utf8')).split('\n')
      partial = lines.pop() ?? ''
      lines.forEach(line)
    },
    flush: () => {
      if (!stopped && partial) line(partial)
      partial = ''
    },
    stop: () => {
      stopped = true
      partial = ''
    },
    lastLine: () => last
  }
}

// The workflow command encoding @actions/core applies to a message.
function unescapeData(text: string): string {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
}
