// Runs the bundled action the way the runner does: inputs as INPUT_* variables,
// the main step's GITHUB_STATE file handed to the post step as STATE_*, outputs
// read from GITHUB_OUTPUT. No relative imports: scripts run this file directly
// with Node's type stripping.
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

export interface EventSpec {
  name: string
  ref: string
  payload?: Record<string, unknown>
  headRef?: string
  baseRef?: string
}

export interface JobSpec {
  inputs: Record<string, string>
  event: EventSpec
  workspace: string
  runnerTemp: string
  /** Cache service variables, DOCKER_HOST and the like. */
  env: Record<string, string>
  /** Skip the post step, as when the job is cancelled during the main step. */
  skipPost?: boolean
}

export interface StepResult {
  exitCode: number
  log: string
  outputs: Record<string, string>
  /** Wall time of the step's process, start-up included. */
  seconds: number
}

export interface JobResult {
  main: StepResult
  post?: StepResult
  state: Record<string, string>
  summary: string
}

export async function runJob(spec: JobSpec): Promise<JobResult> {
  const files = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-files-'))
  try {
    const event = path.join(files, 'event.json')
    fs.writeFileSync(event, JSON.stringify(spec.event.payload ?? {}))
    const summary = path.join(files, 'summary.md')
    fs.writeFileSync(summary, '')
    const stateFile = path.join(files, 'state')
    for (const name of ['state', 'main-output', 'post-output']) fs.writeFileSync(path.join(files, name), '')
    const base: Record<string, string> = {
      ...inheritedEnv(),
      ...spec.env,
      ...inputEnv(spec.inputs),
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: spec.workspace,
      RUNNER_TEMP: spec.runnerTemp,
      GITHUB_EVENT_NAME: spec.event.name,
      GITHUB_EVENT_PATH: event,
      GITHUB_REF: spec.event.ref,
      GITHUB_HEAD_REF: spec.event.headRef ?? '',
      GITHUB_BASE_REF: spec.event.baseRef ?? '',
      GITHUB_REPOSITORY: 'example/ci',
      GITHUB_STEP_SUMMARY: summary
    }
    const main = await runStep(
      'main',
      { ...base, GITHUB_STATE: stateFile, GITHUB_OUTPUT: path.join(files, 'main-output') },
      spec.workspace
    )
    const state = readFileCommands(stateFile)
    const stateEnv = Object.fromEntries(Object.entries(state).map(([k, v]) => [`STATE_${k}`, v]))
    const post = spec.skipPost
      ? undefined
      : await runStep('post', { ...base, ...stateEnv, GITHUB_OUTPUT: path.join(files, 'post-output') }, spec.workspace)
    return { main, post, state, summary: fs.readFileSync(summary, 'utf8') }
  } finally {
    fs.rmSync(files, { recursive: true, force: true })
  }
}

// The runner gives an action a clean environment: only what a job would have.
function inheritedEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'DOCKER_HOST', 'DOCKER_CONFIG', 'LANG', 'TMPDIR']
  return Object.fromEntries(keep.filter(k => process.env[k] !== undefined).map(k => [k, process.env[k] as string]))
}

function inputEnv(inputs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.replace(/ /g, '_').toUpperCase()}`, v]))
}

async function runStep(step: 'main' | 'post', env: Record<string, string>, cwd: string): Promise<StepResult> {
  // ACTION_DIST points at another bundle, e.g. a frozen copy for benchmarks.
  const entry = path.join(process.env.ACTION_DIST ?? path.join(ROOT, 'dist'), step, 'index.js')
  const started = process.hrtime.bigint()
  const child = spawn(process.execPath, [entry], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.on('data', (d: Buffer) => (log += d.toString()))
  child.stderr.on('data', (d: Buffer) => (log += d.toString()))
  const exitCode = await new Promise<number>(resolve => child.on('close', code => resolve(code ?? 1)))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (process.env.SHOW_ACTION_LOG) process.stdout.write(`----- ${step} step -----\n${log}`)
  return { exitCode, log, outputs: readFileCommands(env.GITHUB_OUTPUT), seconds }
}

/** Parses a GITHUB_STATE or GITHUB_OUTPUT file; the last value of a name wins, as on the runner. */
export function readFileCommands(file: string | undefined): Record<string, string> {
  if (!file || !fs.existsSync(file)) return {}
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/)
  const values: Record<string, string> = {}
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i])
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], i + 1)
      values[heredoc[1]] = lines.slice(i + 1, end).join('\n')
      i = end
    } else if (lines[i].includes('=')) {
      const eq = lines[i].indexOf('=')
      values[lines[i].slice(0, eq)] = lines[i].slice(eq + 1)
    }
  }
  return values
}
