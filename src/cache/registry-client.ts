import { execFile } from 'node:child_process'
import { timeLimit } from '../time-limit.js'
import { classifyError, errorMessage, type RegistryFault } from './registry-faults.js'

// The registry through `docker buildx imagetools`, so that it is reached with
// the job's own `docker login` (and credential helpers) and the builder's
// registry settings, exactly as the build reaches it. Every call is bounded:
// a registry that accepts connections and never answers must not hold the job.

export type Lookup = { kind: 'found'; raw: string } | RegistryFault

export type Pushed = { ok: true } | { ok: false; error: string }

export interface RegistryClient {
  /** The manifest a reference names, byte for byte, or why there is none. */
  inspect(ref: string): Promise<Lookup>
  /** Makes `target` an index of the one manifest `source` names, with these annotations on the index. */
  point(target: string, source: string, annotations: Record<string, string>): Promise<Pushed>
}

const LOOKUP_SECONDS = 30
const PUSH_SECONDS = 120
// A manifest of a few thousand layers is well under this.
const MAX_OUTPUT = 32 * 1024 * 1024

export class ImagetoolsClient implements RegistryClient {
  constructor(
    private readonly lookupSeconds: number = LOOKUP_SECONDS,
    private readonly pushSeconds: number = PUSH_SECONDS
  ) {}

  async inspect(ref: string): Promise<Lookup> {
    const run = await docker(['buildx', 'imagetools', 'inspect', '--raw', ref], this.lookupSeconds)
    if (run.timedOut) return { kind: 'broken', message: `the registry did not answer within ${this.lookupSeconds} s` }
    if (run.code === 0) return { kind: 'found', raw: run.stdout }
    return classifyError(run.stderr)
  }

  async point(target: string, source: string, annotations: Record<string, string>): Promise<Pushed> {
    const args = ['buildx', 'imagetools', 'create', '--tag', target]
    for (const [name, value] of Object.entries(annotations)) args.push('--annotation', `index:${name}=${value}`)
    args.push(source)
    const run = await docker(args, this.pushSeconds)
    if (run.timedOut) return { ok: false, error: `the registry did not answer within ${this.pushSeconds} s` }
    return run.code === 0 ? { ok: true } : { ok: false, error: errorMessage(run.stderr) }
  }

  /** Makes `target` an index of the manifests `sources` name (in the target's repository), with these annotations on it. */
  async combine(target: string, sources: string[], annotations: Record<string, string>): Promise<Pushed> {
    const args = ['buildx', 'imagetools', 'create', '--tag', target]
    for (const [name, value] of Object.entries(annotations)) args.push('--annotation', `index:${name}=${value}`)
    args.push(...sources)
    const run = await docker(args, this.pushSeconds)
    if (run.timedOut) return { ok: false, error: `the registry did not answer within ${this.pushSeconds} s` }
    return run.code === 0 ? { ok: true } : { ok: false, error: errorMessage(run.stderr) }
  }
}

interface Run {
  code: number
  stdout: string
  stderr: string
  timedOut: boolean
}

function docker(args: string[], seconds: number): Promise<Run> {
  const deadline = timeLimit(seconds, `the registry did not answer within ${seconds} s`)
  return new Promise(resolve => {
    execFile(
      'docker',
      args,
      { signal: deadline, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) return resolve({ code: 0, stdout, stderr, timedOut: false })
        const failure = error as NodeJS.ErrnoException & { code?: number | string; killed?: boolean }
        // No docker at all: said as a fault of its own, not a registry's.
        if (failure.code === 'ENOENT')
          return resolve({ code: 127, stdout, stderr: 'ERROR: the docker CLI is not on PATH', timedOut: false })
        if (failure.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          return resolve({
            code: 1,
            stdout: '',
            stderr: `ERROR: the registry answered with more than ${MAX_OUTPUT} bytes`,
            timedOut: false
          })
        }
        resolve({
          code: typeof failure.code === 'number' ? failure.code : 1,
          stdout,
          stderr,
          timedOut: deadline.aborted
        })
      }
    )
  })
}
