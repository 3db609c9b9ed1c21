import * as path from 'node:path'
import { DEFAULT_STALL_SECONDS } from './cache/deadline.js'
import { Input, type CacheBackendName, type CacheCompression } from './constants.js'
import { isDirectory, isFile } from './fsutil.js'

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
 * the build reads may resolve outside it.
 */
export function parseInputs(read: ReadInput, workspace: string, env: NodeJS.ProcessEnv = process.env): Inputs {
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
  if (tags.length === 0) requireReference(image)
  for (const tag of tags) requireReference(tag, Input.Tags)

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
  const secrets = readSecrets(read, workspace, env)

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
    summary: boolean(Input.Summary, read(Input.Summary), true)
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

// Docker's reference grammar, loosely: lowercase repository path, optional
// registry port, tag or digest. Anything else would fail the build later with
// a less helpful message.
const REFERENCE =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/

function requireReference(value: string, input?: string): void {
  if (REFERENCE.test(value)) return
  throw new InputError(
    input
      ? `Tag "${value}" in \`${input}\` is not a valid image reference; use lowercase letters, digits and . _ - / : only.`
      : `Input \`image\` ("${value}") is used as the image's tag but is not a valid image reference; set \`tags\`, or use a name of lowercase letters, digits and . _ - /.`
  )
}

// A repository, never a tag: the action names each entry's tag itself.
const REPOSITORY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$/

/** `cache-ref`, and the inputs that cannot apply to a registry. */
function registryInputs(cacheRef: string, maxCacheSizeBytes: number, deleteSuperseded: boolean): string {
  if (!cacheRef) {
    throw new InputError(
      '`cache-backend: registry` needs `cache-ref`: the repository that holds the cache, e.g. `cache-ref: ghcr.io/acme/ci-cache` (log in to its registry before this step).'
    )
  }
  if (/[\r\n]/.test(cacheRef)) throw new InputError(`Input \`${Input.CacheRef}\` must be a single line.`)
  if (/@|:[^/]*$/.test(cacheRef.replace(/^[^/]*\//, ''))) {
    throw new InputError(
      `Input \`${Input.CacheRef}\` ("${cacheRef}") names a tag or digest; give the repository alone, e.g. ghcr.io/acme/ci-cache: the action names the tags.`
    )
  }
  if (!REPOSITORY.test(cacheRef)) {
    throw new InputError(
      `Input \`${Input.CacheRef}\` ("${cacheRef}") is not a repository of the form <registry>/<name>; use lowercase letters, digits and . _ - / only (GitHub owner names may need lowercasing).`
    )
  }
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

type Secrets = Pick<Inputs, 'secrets' | 'secretEnvs' | 'secretFiles'>

// No message repeats a secret's value: a refused entry is named by its
// position, and its id only once the id is known to be one.
function readSecrets(read: ReadInput, workspace: string, env: NodeJS.ProcessEnv): Secrets {
  const seen = new Map<string, string>()
  const idOf = (input: string, entry: string, n: number, what: string): { id: string; rest: string } => {
    const eq = entry.indexOf('=')
    const id = eq > 0 ? entry.slice(0, eq) : ''
    if (!SECRET_ID.test(id)) {
      throw new InputError(
        `Entry ${n} of \`${input}\` must be id=${what}, with an id of letters, digits and . _ -; it is not.`
      )
    }
    const first = seen.get(id)
    if (first !== undefined) {
      throw new InputError(
        `Secret id "${id}" is given twice (in \`${first}\`${first === input ? '' : ` and \`${input}\``}); each id names one secret.`
      )
    }
    seen.set(id, input)
    return { id, rest: entry.slice(eq + 1) }
  }
  const secrets = secretEntries(read(Input.Secrets), Input.Secrets).map((entry, i) => {
    const { id, rest } = idOf(Input.Secrets, entry, i + 1, 'value')
    return { id, value: rest }
  })
  const secretEnvs = secretEntries(read(Input.SecretEnvs), Input.SecretEnvs).map((entry, i) => {
    const { id, rest } = idOf(Input.SecretEnvs, entry, i + 1, 'ENV_NAME')
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(rest)) {
      throw new InputError(
        `Input \`${Input.SecretEnvs}\`: secret "${id}" must name an environment variable (letters, digits and _), e.g. ${id}=MY_TOKEN.`
      )
    }
    // buildx would quietly mount nothing for a variable that is not set.
    if (env[rest] === undefined) {
      throw new InputError(
        `Input \`${Input.SecretEnvs}\`: the variable ${rest} for secret "${id}" is not set in this step's environment; set it with \`env:\`.`
      )
    }
    return { id, env: rest }
  })
  const secretFiles = secretEntries(read(Input.SecretFiles), Input.SecretFiles).map((entry, i) => {
    const { id, rest } = idOf(Input.SecretFiles, entry, i + 1, 'path')
    if (rest === '' || /[\r\n]/.test(rest))
      throw new InputError(`Input \`${Input.SecretFiles}\`: secret "${id}" must name a file, on one line.`)
    const file = path.resolve(workspace, rest)
    if (!isFile(file))
      throw new InputError(`Input \`${Input.SecretFiles}\`: there is no file at ${file} for secret "${id}".`)
    return { id, path: file }
  })
  return { secrets, secretEnvs, secretFiles }
}

const SECRET_ID = /^[A-Za-z0-9_.-]+$/

/**
 * The entries of a secrets input, as build-push-action reads them: one a
 * line, or a double-quoted field that may span lines (a PEM key, JSON), with
 * "" inside it standing for one quote. A line is trimmed, as YAML leaves
 * spaces around it; a quoted field is kept exactly as written. Blank lines
 * are skipped.
 */
export function secretEntries(text: string, input: string): string[] {
  const entries: string[] = []
  let i = 0
  let n = 0
  while (i < text.length) {
    const lineEnd = text.indexOf('\n', i) === -1 ? text.length : text.indexOf('\n', i)
    const start = i + (/^[ \t]*/.exec(text.slice(i, lineEnd))?.[0].length ?? 0)
    if (text[start] !== '"') {
      const line = text.slice(i, lineEnd).trim()
      if (line !== '') entries.push(line)
      i = lineEnd + 1
      continue
    }
    n = entries.length + 1
    let value = ''
    let j = start + 1
    for (;;) {
      const quote = text.indexOf('"', j)
      if (quote === -1) throw new InputError(`Entry ${n} of \`${input}\` opens a quote it never closes.`)
      value += text.slice(j, quote)
      if (text[quote + 1] === '"') {
        value += '"'
        j = quote + 2
        continue
      }
      j = quote + 1
      break
    }
    const after = text.indexOf('\n', j) === -1 ? text.length : text.indexOf('\n', j)
    if (text.slice(j, after).trim() !== '') {
      throw new InputError(
        `Entry ${n} of \`${input}\` has text after its closing quote; write a quote inside a quoted entry as "".`
      )
    }
    entries.push(value)
    i = after + 1
  }
  return entries
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
