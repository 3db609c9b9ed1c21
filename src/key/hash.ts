import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { contextSources } from './dockerfile.js'
import { isFile } from '../fsutil.js'
import type { Inputs } from '../inputs.js'

// Bump when the hash's make-up changes, so old entries stop matching exactly.
const HASH_VERSION = 'v1'

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
 * platforms. The same inputs always give the same hash, on any runner.
 */
export async function imageHash(inputs: Inputs, workspace: string): Promise<ImageHash> {
  const { origin, paths } = await filesToHash(inputs, workspace)
  const files = hashFiles([inputs.file, ...paths], workspace)
  const settings = [
    ...inputs.buildArgs.map(a => `build-arg ${a.name}=sha256:${sha256(a.value).slice(0, 12)}`),
    `target ${inputs.target || '(last stage)'}`,
    `platforms ${inputs.platforms.join(',') || '(engine default)'}`
  ]
  const digest = createHash('sha256').update(`${HASH_VERSION}\n`)
  for (const f of files) digest.update(`file ${JSON.stringify(f.path)} ${f.digest}\n`)
  // Values, not their logged digests, go into the key: two values never share a hash.
  for (const a of inputs.buildArgs) digest.update(`build-arg ${JSON.stringify([a.name, a.value])}\n`)
  digest.update(`target ${JSON.stringify(inputs.target)}\nplatforms ${JSON.stringify(inputs.platforms)}\n`)
  return { hash: digest.digest('hex'), origin, files, settings }
}

async function filesToHash(inputs: Inputs, workspace: string): Promise<{ origin: string; paths: string[] }> {
  if (inputs.hashFiles.length > 0) {
    return { origin: `hash-files: ${inputs.hashFiles.join(', ')}`, paths: await globFiles(inputs.hashFiles, workspace) }
  }
  const { sources, dynamic } = contextSources(await fs.promises.readFile(inputs.file, 'utf8'))
  const ignoreFiles = [path.join(inputs.context, '.dockerignore'), `${inputs.file}.dockerignore`]
  // A source we can't resolve statically could be any file: hash them all.
  const patterns = dynamic.length > 0 ? ['.'] : sources
  const origin =
    dynamic.length > 0
      ? `the whole context, because ${dynamic.join(', ')} cannot be resolved without the build`
      : `the Dockerfile's context sources: ${sources.join(', ') || '(none)'}`
  const paths = await expandSources(patterns, inputs.context)
  return { origin, paths: [...paths, ...ignoreFiles.filter(isFile)] }
}

/** Context-relative sources (COPY/ADD syntax, globs allowed) to absolute file paths. */
export async function expandSources(sources: string[], context: string): Promise<string[]> {
  const found = new Set<string>()
  for (const source of sources) {
    const matches = /[*?[]/.test(source) ? await globFiles([source], context) : [path.join(context, source)]
    for (const match of matches) for (const file of await filesUnder(match)) found.add(file)
  }
  return [...found].sort()
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

// A directory stands for every file below it; a missing path for nothing
// (the build will say that it is missing).
async function filesUnder(p: string): Promise<string[]> {
  const stat = await fs.promises.lstat(p).catch(() => undefined)
  if (!stat) return []
  if (!stat.isDirectory()) return [p]
  const entries = await fs.promises.readdir(p, { recursive: true, withFileTypes: true })
  return entries.filter(e => !e.isDirectory()).map(e => path.join(e.parentPath, e.name))
}

// Synchronous on purpose: the step has nothing else to do meanwhile, and for
// thousands of small files a read is cheaper than the promise around it.
function hashFiles(paths: string[], workspace: string): HashedFile[] {
  return [...new Set(paths)]
    .map(p => ({ path: path.relative(workspace, p).split(path.sep).join('/'), digest: fileDigest(p) }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
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
