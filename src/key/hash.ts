import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { type ContextRead, contextEntries, entriesBelow, readIgnoreRules, type IgnoreFile } from './context-files.js'
import { contextSources, needsBuildPlatform, type ContextSources, type WholeContextReason } from './dockerfile.js'
import type { UnknownCause } from './word-expansion.js'
import type { Inputs } from '../inputs.js'
import { HASH_VERSION } from './hash-version.js'

export interface HashedFile {
  /** Workspace-relative, with forward slashes. */
  path: string
  digest: string
}

export interface ImageHash {
  hash: string
  /** Where the file list came from, for the log. */
  origin: string
  files: HashedFile[]
  /** Non-file inputs (build args, target, platforms), as logged. */
  settings: string[]
}

/**
 * Hashes everything that shapes the image: the Dockerfile, the files its
 * COPY/ADD lines read (or the user's `hash-files`), build args, target and
 * platforms. The same inputs always give the same hash, on any runner of the
 * same platform.
 *
 * With no `platforms`, the image is built for the engine's own platform, so
 * that goes in: an x64 and an arm64 runner never share an entry. The engine
 * is asked while the files are hashed; its answer is awaited only when needed
 * (also when a source names a BUILD* platform arg).
 */
export async function imageHash(
  inputs: Inputs,
  workspace: string,
  enginePlatform: () => string | Promise<string>
): Promise<ImageHash> {
  let asked: Promise<string> | undefined
  const askEngine = (): Promise<string> => {
    asked ??= Promise.resolve(enginePlatform())
    return asked
  }
  const { origin, paths, ignoreFile } = await filesToHash(inputs, workspace, askEngine)
  const files = hashFiles([inputs.file, ...(ignoreFile ? [ignoreFile.path] : []), ...paths], workspace)
  const engine = inputs.platforms.length === 0 ? await askEngine() : undefined
  const settings = [
    ...inputs.buildArgs.map(a => `build-arg ${a.name}=sha256:${sha256(a.value).slice(0, 12)}`),
    `target ${inputs.target || '(last stage)'}`,
    engine === undefined ? `platforms ${inputs.platforms.join(',')}` : `platforms (engine default: ${engine})`
  ]
  const digest = createHash('sha256').update(`${HASH_VERSION}\n`)
  for (const f of files) digest.update(`file ${JSON.stringify(f.path)} ${f.digest}\n`)
  // Values, not their logged digests, go into the key: two values never share a hash.
  for (const a of inputs.buildArgs) digest.update(`build-arg ${JSON.stringify([a.name, a.value])}\n`)
  digest.update(`target ${JSON.stringify(inputs.target)}\nplatforms ${JSON.stringify(inputs.platforms)}\n`)
  // A linked ignore file is hashed as a link above; the rules it leads to count too.
  if (ignoreFile) digest.update(`ignore-rules ${sha256(ignoreFile.text)}\n`)
  if (engine !== undefined) digest.update(`engine-platform ${JSON.stringify(engine)}\n`)
  return { hash: digest.digest('hex'), origin, files, settings }
}

interface FilesToHash {
  origin: string
  /** Absolute paths. */
  paths: string[]
  /** Hashed whether or not the context sends it: it decides what is sent. */
  ignoreFile?: IgnoreFile
}

async function filesToHash(inputs: Inputs, workspace: string, askEngine: () => Promise<string>): Promise<FilesToHash> {
  if (inputs.hashFiles.length > 0) {
    return { origin: `hash-files: ${inputs.hashFiles.join(', ')}`, paths: await globFiles(inputs.hashFiles, workspace) }
  }
  const dockerfile = await fs.promises.readFile(inputs.file, 'utf8')
  const options = { buildArgs: inputs.buildArgs, target: inputs.target, platforms: inputs.platforms }
  let sources = contextSources(dockerfile, options)
  if (needsBuildPlatform(sources))
    sources = contextSources(dockerfile, { ...options, buildPlatform: await askEngine() })
  const rules = readIgnoreRules(inputs.context, inputs.file)
  // A source we can't resolve statically could be any file: hash them all.
  const reads: ContextRead[] = sources.wholeContext.length > 0 ? [{ path: '.', exclude: [] }] : sources.reads
  const what = describeSources(sources, inputs.target)
  const origin = rules.file ? `${what}, less what ${workspaceRelative(rules.file.path, workspace)} excludes` : what
  const paths = contextEntries(reads, inputs.context, rules).map(relative => path.join(inputs.context, relative))
  return { origin, paths, ignoreFile: rules.file }
}

/** For the log: what was hashed and, when it is the whole context, why. */
function describeSources(sources: ContextSources, target: string): string {
  if (sources.wholeContext.length > 0)
    return `the whole context, because ${sources.wholeContext.map(describeReason).join('; ')}`
  if (sources.stages.length === 0) return 'the context sources of the Dockerfile: (none)'
  const stages = `${sources.stages.length === 1 ? 'stage' : 'stages'} ${sources.stages.join(', ')}`
  const which = target === '' ? 'the last stage' : `target ${target}`
  return `the context sources of ${stages} (${which}): ${sources.reads.map(describeRead).join(', ') || '(none)'}`
}

function describeRead(read: ContextRead): string {
  const source = read.parents === undefined ? read.path : `${read.path}/./${read.parents} (--parents)`
  return read.exclude.length === 0 ? source : `${source} (${read.exclude.map(p => `--exclude=${p}`).join(' ')})`
}

const CAUSES: Record<UnknownCause, string> = {
  'image-env': "may come from the base image's ENV",
  'build-platform': "needs the builder's platform, which it did not tell",
  platform: 'comes from a platform that is not os/arch[/variant]',
  'frontend-version': "depends on the Dockerfile frontend's version",
  syntax: 'is in a malformed ${...}'
}

function describeReason(reason: WholeContextReason): string {
  if (reason.kind === 'custom-frontend') {
    const named = reason.source === 'directive' ? '# syntax=' : 'the BUILDKIT_SYNTAX build arg'
    return `the Dockerfile's frontend ${reason.frontend} (${named}) is not the standard one and may read it in its own way`
  }
  const { value, stage, instruction } = reason.word
  const variable = value.variable === '' ? 'a value' : value.variable
  return `${variable} ${CAUSES[value.cause]} (stage ${stage}: ${instruction})`
}

// Patterns starting with `!` exclude, as in the workflow `hashFiles()` function.
async function globFiles(patterns: string[], cwd: string): Promise<string[]> {
  const include = patterns.filter(p => !p.startsWith('!'))
  const exclude = patterns.filter(p => p.startsWith('!')).map(p => p.slice(1))
  const found: string[] = []
  for await (const match of fs.promises.glob(include, { cwd })) found.push(path.resolve(cwd, match))
  const files = [...new Set((await Promise.all(found.map(filesUnder))).flat())]
  const excluded = (file: string): boolean => {
    const relative = path.relative(cwd, file)
    return exclude.some(pattern => path.matchesGlob(relative, pattern))
  }
  return files.filter(file => !excluded(file)).sort()
}

// A directory stands for every file and link below it; a missing path for
// nothing (the build will say that it is missing).
async function filesUnder(p: string): Promise<string[]> {
  const stat = await fs.promises.lstat(p).catch(() => undefined)
  if (!stat) return []
  if (stat.isDirectory()) return entriesBelow(p)
  // A pipe or a device is never read: reading a pipe would block.
  return stat.isFile() || stat.isSymbolicLink() ? [p] : []
}

// Synchronous on purpose: the step has nothing else to do meanwhile, and for
// thousands of small files a read is cheaper than the promise around it.
function hashFiles(paths: string[], workspace: string): HashedFile[] {
  return [...new Set(paths)]
    .map(p => ({ path: workspaceRelative(p, workspace), digest: fileDigest(p) }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function workspaceRelative(p: string, workspace: string): string {
  return path.relative(workspace, p).split(path.sep).join('/')
}

// COPY keeps a file's executable bit and a symlink's target, so both count.
function fileDigest(p: string): string {
  const stat = fs.lstatSync(p)
  if (stat.isSymbolicLink()) return `link:${sha256(fs.readlinkSync(p))}`
  const mode = stat.mode & 0o111 ? 'x' : '-'
  return `${mode}${sha256(fs.readFileSync(p))}`
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}
