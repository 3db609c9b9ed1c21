import * as path from 'node:path'
import { DEFAULT_STALL_SECONDS } from './cache/deadline.js'
import { Input, type BaseImagesSource, type CacheBackendName, type CacheCompression } from './constants.js'
import { isDirectory, isFile } from './fsutil.js'
import { cacheRefProblem, referenceProblem } from './inputs/image-reference.js'
import { isProblem, readSecrets, type Problem } from './inputs/secrets.js'

export interface Inputs {
  image: string
  /** Absolute paths. */
  context: string
  file: string
  hashFiles: string[]
  keyPrefix: string
  defaultBranch: string
  /** Branch names or globs whose push-like runs write their own entries; empty: the default branch. */
  saveBranches: string[]
  tags: string[]
  buildArgs: Array<{ name: string; value: string }>
  /** Build secrets given by value, handed to buildx through the environment, never the command line. */
  secrets: Array<{ id: string; value: string }>
  /** Build secrets buildx reads from a variable of the step's environment. */
  secretEnvs: Array<{ id: string; env: string }>
  /** Build secrets buildx reads from a file (absolute path). */
  secretFiles: Array<{ id: string; path: string }>
  target: string
  platforms: string[]
  load: boolean
  push: boolean
  /** Always pull the images the Dockerfile references (`--pull`). */
  pull: boolean
  /** Build without any cache, restored or the engine's (`--no-cache`); a run that may write still saves the result. */
  noCache: boolean
  /** Make a docker-container builder when the current one cannot export a cache. */
  createBuilder: boolean
  cacheBackend: CacheBackendName
  /** Absolute; set only for the local backend. */
  cacheRoot: string
  /** `<registry>/<repository>`; set only for the registry backend. */
  cacheRef: string
  /** How the exported cache's layers are compressed. */
  cacheCompression: CacheCompression
  /** Bytes above which a new cache is not saved; 0: no limit. */
  maxCacheSizeBytes: number
  /** After a save, delete this image's older entries on the branch (REST API, actions: write). */
  deleteSuperseded: boolean
  /** Hard limits on the restore and the save; unset: none beyond stallTimeoutSeconds. */
  restoreTimeoutSeconds?: number
  saveTimeoutSeconds?: number
  /** Seconds a cache transfer may go without moving a byte; a call to the service gets half as long to be answered. */
  stallTimeoutSeconds: number
  summary: boolean
  /** When a run that may write fails its build, save the steps that finished as a partial entry. */
  saveOnFailure: boolean
  /** Keep the contents of the Dockerfile's `RUN --mount=type=cache` mounts with the entry. */
  cacheMounts: boolean
  /** Bytes above which a cache mount is neither saved nor restored; 0: no limit. */
  maxCacheMountSizeBytes: number
  /**
   * Where the images the Dockerfile starts from come from: `cache`, the copies
   * kept with the restored entry (runs that may write still ask the registry
   * first); `registry`, the registry on every run. `pull` and `no-cache` mean
   * the registry.
   */
  baseImages: BaseImagesSource
}

/** A bad input: the message says which input and what to change. */
export class InputError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InputError'
  }
}

export type ReadInput = (name: string) => string

/**
 * Reads and checks every input. `workspace` anchors relative paths; nothing
 * the build reads may resolve outside it. `env` is the step's environment,
 * where each variable secret-envs names must be set (none, unless given).
 */
export function parseInputs(read: ReadInput, workspace: string, env: NodeJS.ProcessEnv = {}): Inputs {
  const image = read(Input.Image).trim()
  if (!image) throw new InputError('Input `image` is required: name the CI image, e.g. `image: dist-x86_64-linux`.')
  if (/[\r\n]/.test(image)) throw new InputError('Input `image` must be a single line.')

  const context = insideWorkspace(Input.Context, read(Input.Context).trim() || '.', workspace)
  if (!isDirectory(context)) {
    throw new InputError(
      `Input \`context\` is not a directory: ${context}. Point it at the folder the image is built from.`
    )
  }
  const fileInput = read(Input.File).trim()
  const file = fileInput ? insideWorkspace(Input.File, fileInput, workspace) : path.join(context, 'Dockerfile')
  if (!isFile(file)) {
    throw new InputError(`No Dockerfile at ${file}. Set \`file\` to the Dockerfile's path (relative to the workspace).`)
  }

  const tags = list(read(Input.Tags), /[\n,]/)
  if (tags.length === 0) refuse(referenceProblem(image))
  for (const tag of tags) refuse(referenceProblem(tag, Input.Tags))

  const cacheBackend = oneOf(Input.CacheBackend, read(Input.CacheBackend).trim() || 'gha', [
    'gha',
    'local',
    'registry'
  ] as const)
  const cacheRootInput = read(Input.CacheRoot).trim()
  if (cacheBackend === 'local' && !cacheRootInput) {
    throw new InputError('`cache-backend: local` needs `cache-root`: an absolute directory that persists between runs.')
  }
  if (cacheRootInput && !path.isAbsolute(cacheRootInput)) {
    throw new InputError(
      `Input \`cache-root\` must be an absolute path (a directory that outlives the runner), not "${cacheRootInput}".`
    )
  }
  // buildx takes the directory inside an attribute list, where a comma or a
  // quote is quoted (docker/attributes.ts); a line break could not be.
  if (/[\r\n]/.test(cacheRootInput)) throw new InputError('Input `cache-root` must be a single line.')
  const secrets = accepted(readSecrets(read, workspace, env))

  const maxCacheSizeBytes = size(Input.MaxCacheSize, read(Input.MaxCacheSize))
  const deleteSuperseded = boolean(Input.DeleteSuperseded, read(Input.DeleteSuperseded), false)
  const cacheRef =
    cacheBackend === 'registry' ? registryInputs(read(Input.CacheRef).trim(), maxCacheSizeBytes, deleteSuperseded) : ''

  return {
    image,
    context,
    file,
    hashFiles: list(read(Input.HashFiles), /\n/).filter(line => !line.startsWith('#')),
    keyPrefix: singleLine(Input.KeyPrefix, read(Input.KeyPrefix).trim() || 'buildx'),
    defaultBranch: singleLine(Input.DefaultBranch, read(Input.DefaultBranch).trim()),
    saveBranches: list(read(Input.SaveBranches), /[\n,]/),
    tags,
    buildArgs: list(read(Input.BuildArgs), /\n/).map(buildArg),
    ...secrets,
    target: singleLine(Input.Target, read(Input.Target).trim()),
    platforms: list(read(Input.Platforms), /[\n,]/),
    load: boolean(Input.Load, read(Input.Load), true),
    push: boolean(Input.Push, read(Input.Push), false),
    pull: boolean(Input.Pull, read(Input.Pull), false),
    noCache: boolean(Input.NoCache, read(Input.NoCache), false),
    createBuilder: boolean(Input.CreateBuilder, read(Input.CreateBuilder), true),
    cacheBackend,
    cacheRoot: cacheBackend === 'local' ? path.normalize(cacheRootInput) : '',
    cacheRef,
    cacheCompression: oneOf(Input.CacheCompression, read(Input.CacheCompression).trim() || 'zstd', [
      'gzip',
      'zstd',
      'uncompressed'
    ] as const),
    maxCacheSizeBytes,
    deleteSuperseded,
    restoreTimeoutSeconds: seconds(Input.RestoreTimeout, read(Input.RestoreTimeout), undefined),
    saveTimeoutSeconds: seconds(Input.SaveTimeout, read(Input.SaveTimeout), undefined),
    stallTimeoutSeconds: seconds(Input.StallTimeout, read(Input.StallTimeout), DEFAULT_STALL_SECONDS),
    summary: boolean(Input.Summary, read(Input.Summary), true),
    saveOnFailure: boolean(Input.SaveOnFailure, read(Input.SaveOnFailure), true),
    cacheMounts: boolean(Input.CacheMounts, read(Input.CacheMounts), true),
    maxCacheMountSizeBytes: size(Input.MaxCacheMountSize, read(Input.MaxCacheMountSize).trim() || DEFAULT_MOUNT_SIZE),
    baseImages: oneOf(Input.BaseImages, read(Input.BaseImages).trim() || 'cache', ['cache', 'registry'] as const)
  }
}

function insideWorkspace(name: string, value: string, workspace: string): string {
  const resolved = path.resolve(workspace, value)
  const relative = path.relative(workspace, resolved)
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new InputError(
      `Input \`${name}\` (${value}) resolves outside the workspace ${workspace}; use a path inside the repository.`
    )
  }
  return resolved
}

/** `cache-ref`, and the inputs that cannot apply to a registry. */
function registryInputs(cacheRef: string, maxCacheSizeBytes: number, deleteSuperseded: boolean): string {
  if (!cacheRef) {
    throw new InputError(
      '`cache-backend: registry` needs `cache-ref`: the repository that holds the cache, e.g. `cache-ref: ghcr.io/acme/ci-cache` (log in to its registry before this step).'
    )
  }
  refuse(cacheRefProblem(cacheRef))
  if (maxCacheSizeBytes > 0) {
    throw new InputError(
      `\`${Input.MaxCacheSize}\` does not apply to \`cache-backend: registry\`: the build pushes its cache as it goes, before its size is known. Remove it; the registry's own quota bounds the cache.`
    )
  }
  if (deleteSuperseded) {
    throw new InputError(
      `\`${Input.DeleteSuperseded}\` deletes Actions cache entries and does not apply to \`cache-backend: registry\`. Remove it; old tags are cleaned by the registry's retention (see the README).`
    )
  }
  return cacheRef
}

function buildArg(line: string): { name: string; value: string } {
  const eq = line.indexOf('=')
  const name = eq > 0 ? line.slice(0, eq) : ''
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new InputError(
      'Each line of `build-args` must be NAME=value with NAME made of letters, digits and _; one line does not.'
    )
  }
  return { name, value: line.slice(eq + 1) }
}

function refuse(problem: string | undefined): void {
  if (problem !== undefined) throw new InputError(problem)
}

function accepted<T>(checked: T | Problem): T {
  if (isProblem(checked)) throw new InputError(checked.problem)
  return checked
}

function list(value: string, separator: RegExp): string[] {
  return value
    .split(separator)
    .map(item => item.trim())
    .filter(item => item !== '')
}

function singleLine(name: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new InputError(`Input \`${name}\` must be a single line.`)
  return value
}

function boolean(name: string, value: string, fallback: boolean): boolean {
  const v = value.trim().toLowerCase()
  if (v === '') return fallback
  if (v === 'true') return true
  if (v === 'false') return false
  throw new InputError(`Input \`${name}\` must be true or false, not "${value}".`)
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }

// A compiler cache (ccache, sccache, cargo's target) rarely needs more; a larger one costs more to move than it saves.
const DEFAULT_MOUNT_SIZE = '2GB'

function size(name: string, value: string): number {
  if (value.trim() === '') return 0
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(value.trim())
  if (!m) throw new InputError(`Input \`${name}\` must be a size such as 2GB, 500MB or 1073741824, not "${value}".`)
  return Math.round(Number(m[1]) * UNITS[m[2].toUpperCase()])
}

function seconds<T extends number | undefined>(name: string, value: string, fallback: T): number | T {
  if (value.trim() === '') return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0)
    throw new InputError(`Input \`${name}\` must be a positive number of seconds, not "${value}".`)
  return n
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T
  throw new InputError(`Input \`${name}\` must be one of ${allowed.join(', ')}, not "${value}".`)
}
