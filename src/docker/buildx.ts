import * as exec from '@actions/exec'
import type { CacheLocation } from '../cache/store.js'
import type { Inputs } from '../inputs.js'

export interface BuildCache {
  /** Restored caches to import. */
  from: CacheLocation[]
  /** Where to export the new cache; only when this run may save it. */
  to?: CacheLocation
  /**
   * Ignore the engine's own build cache as well: the retry after a damaged
   * cache, whose failed import can leave records in the engine that break
   * every later build of the same steps (see CACHE_IMPORT_FAILURES).
   */
  noCache?: boolean
}

export interface BuildRun {
  iidFile: string
  metadataFile: string
  /** A builder other than the current one. */
  builder?: string
  /**
   * `cache`: the build only exports its cache (the image is already where
   * the first build put it), as when a stale entry is refreshed after it.
   */
  output: 'image' | 'cache'
}

export function buildxArgs(inputs: Inputs, cache: BuildCache, run: BuildRun): string[] {
  const args = ['buildx', 'build', '--progress=plain', '--file', inputs.file]
  if (run.builder) args.push('--builder', run.builder)
  for (const tag of inputs.tags.length > 0 ? inputs.tags : [inputs.image]) args.push('--tag', tag)
  for (const { name, value } of inputs.buildArgs) args.push('--build-arg', `${name}=${value}`)
  for (const [i, { id }] of inputs.secrets.entries())
    args.push('--secret', attributes(['id', id], ['env', secretVariable(i)]))
  for (const { id, env } of inputs.secretEnvs) args.push('--secret', attributes(['id', id], ['env', env]))
  for (const { id, path } of inputs.secretFiles) args.push('--secret', attributes(['id', id], ['src', path]))
  if (inputs.target) args.push('--target', inputs.target)
  if (inputs.platforms.length > 0) args.push('--platform', inputs.platforms.join(','))
  if (run.output === 'image' && inputs.load) args.push('--load')
  if (run.output === 'image' && inputs.push) args.push('--push')
  if (inputs.pull) args.push('--pull')
  // no-cache: neither the engine's cache nor an imported one.
  const noCache = cache.noCache || inputs.noCache
  if (noCache) args.push('--no-cache')
  if (!noCache) for (const location of cache.from) args.push('--cache-from', cacheFrom(location))
  if (cache.to) args.push('--cache-to', `${cacheTo(cache.to)}${compression(inputs.cacheCompression)}`)
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

/**
 * What to mask in the log for secrets given by value: each whole value and,
 * since the log is read line by line, each line of a value that spans lines.
 */
export function secretMasks(secrets: Inputs['secrets']): string[] {
  const masks = new Set<string>()
  for (const { value } of secrets) {
    if (value !== '') masks.add(value)
    if (!value.includes('\n')) continue
    for (const line of value.split('\n')) if (line.trim() !== '') masks.add(line.trim())
  }
  return [...masks]
}

/**
 * An attribute list as buildx reads it (--cache-to, --cache-from, --secret):
 * one CSV record of key=value fields. A field holding a comma, a quote or a
 * line break is quoted, its quotes doubled, so that a directory named
 * `/a,b` stays one value instead of becoming an attribute `b`.
 */
export function attributes(...fields: Array<[string, string]>): string {
  return fields.map(([key, value]) => csvField(`${key}=${value}`)).join(',')
}

function csvField(field: string): string {
  return /[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field
}

function cacheFrom(location: CacheLocation): string {
  return location.type === 'local'
    ? attributes(['type', 'local'], ['src', location.dir])
    : attributes(['type', 'registry'], ['ref', location.ref])
}

// mode=max: every stage's layers, so that a builder stage is cached too.
// ignore-error: a failed export must not fail the build; the store checks
// what was exported before anything is saved. buildx still prints the error
// (see cacheExportError). image-manifest=true stores a registry cache as an
// OCI image manifest, which registries such as ghcr.io accept.
function cacheTo(location: CacheLocation): string {
  return location.type === 'local'
    ? attributes(['type', 'local'], ['dest', location.dir], ['mode', 'max'], ['ignore-error', 'true'])
    : attributes(
        ['type', 'registry'],
        ['ref', location.ref],
        ['mode', 'max'],
        ['image-manifest', 'true'],
        ['oci-mediatypes', 'true'],
        ['ignore-error', 'true']
      )
}

// Layers keep the compression they were built or imported with: layers
// built here come out gzip-compressed, those of a restored entry keep its
// compression. Forced, the export gives every layer the one asked for
// (recompressing only the layers that have another), so a cache never mixes
// two, even after the input changes.
function compression(choice: Inputs['cacheCompression']): string {
  return `,compression=${choice},force-compression=true`
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

/**
 * Counts the Dockerfile's steps (`#5 [2/4] RUN ...`) and those reported
 * CACHED. A `FROM` step resolves a base image and is never reported CACHED,
 * warm or not: it is not a step the cache can serve, so it is not counted.
 * Nor is `#3 [auth] sharing credentials for ghcr.io`, which a build prints
 * after a `docker login` to a registry it reads.
 */
export function stepCounts(progress: string): StepCounts {
  const steps = new Set<string>()
  const cached = new Set<string>()
  for (const line of progress.split('\n')) {
    const step = /^#(\d+) \[(?!internal\]|auth\])[^\]]*\] (?!FROM )/.exec(line)
    if (step) steps.add(step[1])
    // A step a registry cache serves without its layer being local yet is
    // reported as the layer's download, not as CACHED; a step that runs
    // never downloads a layer.
    const hit = /^#(\d+) (?:CACHED\s*$|sha256:[a-f0-9]{64} )/.exec(line)
    if (hit) cached.add(hit[1])
  }
  return { total: steps.size, cached: [...cached].filter(id => steps.has(id)).length }
}

/**
 * Why the cache export failed in a build that went on regardless
 * (ignore-error), as buildx 0.13 prints it under the export's own step:
 *   #11 exporting cache to registry
 *   #11 ERROR: error writing layer blob: ... 401 Unauthorized
 */
export function cacheExportError(progress: string): string | undefined {
  const exports = new Set<string>()
  let error: string | undefined
  for (const line of progress.split('\n')) {
    const step = /^#(\d+) exporting cache to /.exec(line)
    if (step) exports.add(step[1])
    const failed = /^#(\d+) ERROR: (.*)$/.exec(line)
    if (failed && exports.has(failed[1])) error = failed[2].trim()
  }
  return error
}

export function errorLine(output: string): string {
  const lines = output
    .split('\n')
    .map(l => l.trim())
    .filter(Boolean)
  const errors = lines.filter(l => /^(ERROR|error):/.test(l))
  // buildx 0.29 and later put "failed to build: " before what 0.13 said.
  return (errors.at(-1) ?? lines.at(-1) ?? '').replace(/^(ERROR|error):\s*/, '').replace(/^failed to build: /, '')
}

// What buildx 0.13 on Docker Engine 26 (containerd image store) prints last
// when a blob of the imported local cache is missing or damaged, found by
// breaking real caches. The blob is read either while the build computes
// cache keys or, when the engine already holds the layer, while the new cache
// is exported:
//   failed to solve: failed to compute cache key: NotFound: rpc error: code = NotFound desc = content sha256:<d>: not found
//   failed to solve: NotFound: rpc error: code = NotFound desc = content sha256:<d>: not found
//   failed to solve: error writing layer blob: NotFound: rpc error: code = NotFound desc = content sha256:<d>: not found
//   failed to solve: failed to compute cache key: failed commit on ref "layer-sha256:<d>": commit failed: unexpected commit digest sha256:<x>, expected sha256:<d>: failed precondition
//   failed to solve: failed to compute cache key: failed commit on ref "layer-sha256:<d>": commit failed: "layer-sha256:<d>" failed size validation: <n> != <m>: failed precondition
//   failed to solve: error writing layer blob: failed commit on ref "layer-sha256:<d>": commit failed: rpc error: code = FailedPrecondition desc = unexpected commit size <n>, expected <m>: failed precondition
//   failed to solve: failed to read expected number of bytes: unexpected EOF
// A registry cache is pulled lazily, layer by layer, while the image is
// exported; a layer its manifest names but the registry no longer has
// (deleted, garbage-collected) fails that export:
//   failed to solve: failed to copy: httpReadSeeker: failed open: could not fetch content descriptor sha256:<d> (application/vnd.oci.image.layer.v1.tar+gzip) from remote: not found
// Such a failed import leaves records in the engine that outlive
// `buildx prune -af`; on an engine that persists between jobs, every later
// build of the same steps fails, with or without a cache, until one runs with
// --no-cache:
//   failed to solve: failed to prepare sha256:<chain> as <id>: parent snapshot sha256:<chain> does not exist: not found
//   failed to solve: failed to compute cache key: parent snapshot sha256:<chain> does not exist: not found
//   failed to solve: failed to extract layer sha256:<diff>: failed to get reader from content store: content digest sha256:<d>: not found
// A damaged index.json, manifest or cache config fails nothing: buildx warns
// ("local cache import at <dir> not found due to err: ...") or reports the
// importer step as errored, and builds without the cache.
// Each pattern is anchored right after "failed to solve: ", so the line of a
// failing RUN (`failed to solve: process "<command>" did not complete
// successfully`) never matches, whatever its command says.
const STAGE = '^failed to solve: (?:failed to compute cache key: |error writing layer blob: )?'
const SHA = 'sha256:[a-f0-9]{64}'
const CACHE_IMPORT_FAILURES = [
  new RegExp(`${STAGE}NotFound: rpc error: code = NotFound desc = content ${SHA}: not found$`),
  new RegExp(
    `${STAGE}failed commit on ref "layer-${SHA}": commit failed: .*(?:unexpected commit (?:digest|size)|failed size validation)`
  ),
  new RegExp(`${STAGE}failed to read expected number of bytes: unexpected EOF$`),
  new RegExp(
    `${STAGE}failed to copy: httpReadSeeker: failed open: could not fetch content descriptor ${SHA} \\([^)]*\\) from remote: not found$`
  ),
  new RegExp(`${STAGE}(?:failed to prepare ${SHA} as [a-z0-9]+: )?parent snapshot ${SHA} does not exist: not found$`),
  new RegExp(
    `${STAGE}failed to extract layer ${SHA}: failed to get reader from content store: content digest ${SHA}: not found$`
  )
]

/**
 * Whether a failed build's output points at a damaged cache: the one imported,
 * or records an earlier damaged import left in the engine. Either way, one
 * more build with --no-cache and without --cache-from gets past it.
 */
export function failedOnCacheImport(output: string): boolean {
  const lastError = errorLine(output)
  return CACHE_IMPORT_FAILURES.some(pattern => pattern.test(lastError))
}
