import * as exec from '@actions/exec'
import type { Inputs } from './inputs.js'

export interface BuildCache {
  /** A restored buildx local cache to import. */
  from?: string
  /** Where to export the new cache; only when this run may save it. */
  to?: string
}

export interface BuildRun {
  iidFile: string
  metadataFile: string
  /** A builder other than the current one. */
  builder?: string
}

export function buildxArgs(inputs: Inputs, cache: BuildCache, run: BuildRun): string[] {
  const args = ['buildx', 'build', '--progress=plain', '--file', inputs.file]
  if (run.builder) args.push('--builder', run.builder)
  for (const tag of inputs.tags.length > 0 ? inputs.tags : [inputs.image]) args.push('--tag', tag)
  for (const { name, value } of inputs.buildArgs) args.push('--build-arg', `${name}=${value}`)
  inputs.secrets.forEach(({ id }, i) => args.push('--secret', `id=${id},env=${secretVariable(i)}`))
  if (inputs.target) args.push('--target', inputs.target)
  if (inputs.platforms.length > 0) args.push('--platform', inputs.platforms.join(','))
  if (inputs.load) args.push('--load')
  if (inputs.push) args.push('--push')
  if (cache.from) args.push('--cache-from', `type=local,src=${cache.from}`)
  if (cache.to) args.push('--cache-to', `type=local,dest=${cache.to},mode=max${compression(inputs.cacheCompression)}`)
  args.push('--iidfile', run.iidFile, '--metadata-file', run.metadataFile)
  args.push(inputs.context)
  return args
}

/** The variable that carries secret i to buildx: values never appear in the arguments, which are logged. */
export function secretVariable(i: number): string {
  return `BUILDX_CI_CACHE_SECRET_${i}`
}

export function secretEnv(secrets: Inputs['secrets']): Record<string, string> {
  return Object.fromEntries(secrets.map(({ value }, i) => [secretVariable(i), value]))
}

// Layers built here come out gzip-compressed; another choice must be forced
// on the export, or the cache would mix both.
function compression(choice: Inputs['cacheCompression']): string {
  return choice === 'gzip' ? '' : `,compression=${choice},force-compression=true`
}

export interface BuildResult {
  exitCode: number
  /** The most telling error line of a failed build, for the failure message. */
  error: string
  steps: StepCounts
  /** Everything buildx printed, for the caller's diagnosis. */
  output: string
}

export interface StepCounts {
  total: number
  cached: number
}

/** Runs docker with the given arguments, its output streaming into the log. */
export async function runBuildx(args: string[], env: Record<string, string> = {}): Promise<BuildResult> {
  let output = ''
  const collect = (data: Buffer): void => {
    output += data.toString()
  }
  const exitCode = await exec.exec('docker', args, {
    ignoreReturnCode: true,
    env: { ...(process.env as Record<string, string>), ...env },
    listeners: { stdout: collect, stderr: collect }
  })
  return { exitCode, error: errorLine(output), steps: stepCounts(output), output }
}

/** Counts the Dockerfile's steps (`#5 [2/4] RUN ...`) and those reported CACHED. */
export function stepCounts(progress: string): StepCounts {
  const steps = new Set<string>()
  const cached = new Set<string>()
  for (const line of progress.split('\n')) {
    const step = /^#(\d+) \[(?!internal\])[^\]]*\] /.exec(line)
    if (step) steps.add(step[1])
    const hit = /^#(\d+) CACHED\s*$/.exec(line)
    if (hit) cached.add(hit[1])
  }
  return { total: steps.size, cached: [...cached].filter(id => steps.has(id)).length }
}

export function errorLine(output: string): string {
  const lines = output.split('\n').map(l => l.trim()).filter(Boolean)
  const errors = lines.filter(l => /^(ERROR|error):/.test(l))
  return (errors.at(-1) ?? lines.at(-1) ?? '').replace(/^(ERROR|error):\s*/, '')
}

// Seen when an imported local cache is incomplete or damaged: buildx fails
// while loading it, not because of the Dockerfile.
const CACHE_IMPORT_FAILURES = [
  /importing cache manifest from local/i,
  /failed to read.*index\.json/i,
  /local cache.*(not found|invalid)/i,
  /failed to compute cache key: .*(blobs\/sha256|content digest|not found: not found)/i,
  /digest .* not found/i,
  /unexpected (EOF|end of JSON input)/i,
  /invalid character .* looking for beginning of value/i
]

/** Whether a failed build's output points at the imported cache. */
export function failedOnCacheImport(output: string): boolean {
  const lastError = errorLine(output)
  return CACHE_IMPORT_FAILURES.some(pattern => pattern.test(lastError))
}
