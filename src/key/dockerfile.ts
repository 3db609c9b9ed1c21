/**
 * Static reading of a Dockerfile: which files of the build context can the
 * build read? The cache key hashes exactly those, so editing an unrelated
 * file in the repository does not invalidate the image.
 *
 * It follows BuildKit's Dockerfile frontend where it matters for the answer
 * (directives, continuations, heredocs, flags, mounts, stages, variable
 * expansion). Where it cannot know, before the build, what a word names, it
 * says so, and the caller hashes the whole context: hashing too much costs a
 * cache miss, hashing too little serves a stale image.
 */
import type { ContextRead } from './context-files.js'
import { parseDockerfile, syntaxDirective } from './dockerfile-parse.js'
import { type CacheMount, type StageReads, stageReads, type UnknownWord } from './dockerfile-stages.js'
import { platformAnswer } from './platform-args.js'

export type { CacheMount, UnknownWord } from './dockerfile-stages.js'

export interface BuildOptions {
  buildArgs: Array<{ name: string; value: string }>
  /** `''`: the last stage. */
  target: string
  /** The platforms built; none: the builder's own. */
  platforms: string[]
  /** The builder's own platform, when it has been asked for. */
  buildPlatform?: string
}

export type WholeContextReason =
  /** A frontend other than the standard one may read the context in its own way. */
  | { kind: 'custom-frontend'; frontend: string; source: 'directive' | 'build-arg' }
  /** A word that decides what is read cannot be expanded before the build. */
  | { kind: 'unknown-word'; word: UnknownWord }

export interface ContextSources {
  /** What the needed stages read from the context, in order of appearance, deduplicated. */
  reads: ContextRead[]
  /** Why the reads cannot be narrowed down; empty when `reads` is all the build reads. */
  wholeContext: WholeContextReason[]
  /** The stages the target needs, in file order. */
  stages: string[]
  /** The cache mounts of those stages, one per id (the first platform's, for several). */
  cacheMounts: CacheMount[]
}

const NO_OPTIONS: BuildOptions = { buildArgs: [], target: '', platforms: [] }

// docker/dockerfile (and its -upstream channel) under any tag or digest, on Docker Hub.
const STANDARD_FRONTEND =
  /^(?:(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\/)?docker\/dockerfile(?:-upstream)?(?::\w[\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/

export function contextSources(dockerfile: string, options: BuildOptions = NO_OPTIONS): ContextSources {
  const frontend = customFrontend(dockerfile, options)
  if (frontend) return { reads: [], wholeContext: [frontend], stages: [], cacheMounts: [] }

  const parsed = parseDockerfile(dockerfile)
  const buildArgs = new Map(options.buildArgs.map(a => [a.name, a.value]))
  const buildPlatform = platformAnswer(options.buildPlatform)
  // Each platform built can read other files (TARGETARCH, stages chosen by it): the key covers them all.
  const targets = options.platforms.length > 0 ? options.platforms.map(p => platformAnswer(p)) : [buildPlatform]
  const perPlatform = targets.map(targetPlatform =>
    stageReads(parsed, { buildArgs, target: options.target, targetPlatform, buildPlatform })
  )
  return union(perPlatform)
}

/** The analysis needs the builder's platform, which the caller has not given. */
export function needsBuildPlatform(sources: ContextSources): boolean {
  return sources.wholeContext.some(r => r.kind === 'unknown-word' && r.word.value.cause === 'build-platform')
}

function customFrontend(dockerfile: string, options: BuildOptions): WholeContextReason | undefined {
  // The BUILDKIT_SYNTAX build arg takes precedence over the directive, as in BuildKit.
  const fromArg = options.buildArgs
    .findLast(a => a.name === 'BUILDKIT_SYNTAX')
    ?.value.trim()
    .split(' ')[0]
  const frontend = fromArg ?? syntaxDirective(dockerfile)
  if (frontend === undefined || STANDARD_FRONTEND.test(frontend)) return undefined
  return { kind: 'custom-frontend', frontend, source: fromArg === undefined ? 'directive' : 'build-arg' }
}

function union(results: StageReads[]): ContextSources {
  const reads = new Map<string, ContextRead>()
  const unknown = new Map<string, UnknownWord>()
  const stages = new Set<string>()
  const mounts = new Map<string, CacheMount>()
  for (const result of results) {
    for (const mount of result.cacheMounts) if (!mounts.has(mount.id)) mounts.set(mount.id, mount)
    for (const read of result.reads) reads.set(JSON.stringify([read.path, read.parents, read.exclude]), read)
    for (const word of result.unknown)
      unknown.set(JSON.stringify([word.value.variable, word.stage, word.instruction]), word)
    for (const stage of result.stages) stages.add(stage)
  }
  return {
    reads: [...reads.values()],
    wholeContext: [...unknown.values()].map(word => ({ kind: 'unknown-word', word })),
    stages: [...stages],
    cacheMounts: [...mounts.values()]
  }
}
