import * as core from '@actions/core'
import * as exec from '@actions/exec'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { CacheLocation } from '../cache/store.js'
import { blobPath } from '../cache/integrity.js'
import { attributes } from '../docker/attributes.js'
import {
  baseFailureSentence,
  baseResolveFailure,
  keptBases,
  keptDescriptor,
  type KeptBase,
  type ResolvedBase
} from '../docker/base-images.js'
import { BuildError, type BuildOutcome } from '../docker/build.js'
import type { BuildCache } from '../docker/buildx-args.js'
import { docker } from '../docker/docker-cli.js'
import { errorLine } from '../docker/error-line.js'
import { removeDir } from '../fsutil.js'
import type { Inputs } from '../inputs.js'
import { megabytes } from '../megabytes.js'

// The images a Dockerfile starts from travel with the entry: a run that
// writes keeps, in the exported layout, a copy of each base image its build
// resolved (the layers are the cache's own: only a manifest and a config
// are added); a run that restores the entry builds on exactly those, through
// `--build-context <name>=oci-layout://<layout>@<digest>`, and asks no
// registry for them. A run that writes still asks the registries first, so a
// tag that moved is built on and kept; when a registry cannot answer, it
// falls back to the kept copy.

/**
 * The kept images of a restored layout, and how the build gets them: as
 * named contexts, or (the docker driver on the classic image store, whose
 * BuildKit has no oci-layout source) loaded into the engine under their
 * names first, which that driver builds on without asking a registry.
 */
export interface KeptSource {
  kept: KeptBase[]
  layout: string
  via: 'context' | 'engine'
}

/** How this run's build gets its base images: a typed decision, said in the log. */
export type BasePlan =
  /** Every base from its registry, and nothing kept: the input, pull, no-cache, or several platforms. */
  | { kind: 'registry'; why: string }
  /** A run that cannot write: the restored entry's kept images, asking no registry for them. */
  | { kind: 'kept'; bases: KeptSource }
  /** A run that may write: the registries first; the kept images if a registry cannot answer. */
  | { kind: 'registry-first'; fallback?: KeptSource }

/** What the base images came to in this run, for the log and the summary. */
export interface BaseImagesReport {
  /** Base images taken from the entry: as many registry lookups avoided. */
  fromCache: number
  /** The registry could not answer for one, and the kept copies served instead. */
  fellBack?: string
  /** Kept with the entry this run saves: how many, and the bytes they add to it. */
  kept?: { count: number; addedBytes: number }
  /** Why nothing is kept, when something could have been. */
  notKept?: string
}

export interface BasePlanContext {
  inputs: Inputs
  /** Where the restored entry was imported from. */
  restored: CacheLocation[]
  mayWrite: boolean
  /** The build runs on the docker driver, which sees the engine's own images. */
  dockerDriver: boolean
  /** ... with the classic image store, which cannot read an oci-layout context. */
  classicStore: boolean
  /** A directory of this run's own, removed whatever happens. */
  workDir: string
  env: Record<string, string>
}

export async function planBases(context: BasePlanContext): Promise<BasePlan> {
  const { inputs } = context
  if (inputs.baseImages === 'registry') return { kind: 'registry', why: 'base-images is registry' }
  if (inputs.pull) return { kind: 'registry', why: 'pull is true' }
  if (inputs.noCache) return { kind: 'registry', why: 'no-cache is true' }
  if (inputs.platforms.length > 1)
    return {
      kind: 'registry',
      why: 'the build is for several platforms, and a kept copy stands for one platform only'
    }
  const layout = context.restored.find(l => l.type === 'local')?.dir
  const kept = layout === undefined ? [] : await keptIn(layout)
  const usable = await leftToTheEngine(kept, context)
  const via = context.dockerDriver && context.classicStore ? 'engine' : 'context'
  const bases: KeptSource | undefined =
    layout !== undefined && usable.length > 0 ? { kept: usable, layout, via } : undefined
  if (context.mayWrite) return { kind: 'registry-first', fallback: bases }
  return bases ? { kind: 'kept', bases } : { kind: 'registry', why: 'the restored entry keeps no base image' }
}

/** The plan in one line of the log. */
export function describePlan(plan: BasePlan): string {
  if (plan.kind === 'registry') return `Base images come from their registries: ${plan.why}.`
  if (plan.kind === 'kept')
    return `Base images come from the restored entry, asking no registry: ${plan.bases.kept.map(k => `${k.name} (${k.resolved || k.digest})`).join(', ')}.`
  return plan.fallback
    ? `Base images come from their registries (this run may write, so a moved tag is seen); the entry's copies stand in if a registry cannot answer: ${plan.fallback.kept.map(k => k.name).join(', ')}.`
    : 'Base images come from their registries (this run may write); the restored entry keeps no copy of them.'
}

/**
 * Runs the build on the planned bases. A base image whose registry refused
 * or could not be reached: a run that may write builds again on the kept
 * copy, with a warning; without one, the build fails with one sentence that
 * names the image, its registry and the fix.
 */
export async function buildOnBases(
  plan: BasePlan,
  context: Pick<BasePlanContext, 'workDir' | 'env'>,
  build: (bases: BuildCache['bases']) => Promise<BuildOutcome>
): Promise<{ built: BuildOutcome; report: BaseImagesReport }> {
  const run = async (source: KeptSource | undefined): Promise<BuildOutcome> => {
    if (source?.via !== 'engine') return build(source && { kept: source.kept, layout: source.layout })
    await loadIntoEngine(source, context)
    return build(undefined)
  }
  const first = plan.kind === 'kept' ? plan.bases : undefined
  try {
    return { built: await run(first), report: { fromCache: first?.kept.length ?? 0 } }
  } catch (error) {
    if (!(error instanceof BuildError) || error.failed === undefined) throw error
    const failure = baseResolveFailure(error.failed.output)
    if (failure === undefined) throw error
    const fallback = plan.kind === 'registry-first' ? plan.fallback : undefined
    if (fallback === undefined) throw new BuildError(baseFailureSentence(failure), error.failed)
    const answered = failure.status === undefined ? 'could not be reached' : `answered ${failure.status}`
    core.warning(
      `The registry ${failure.registry} ${answered} for the base image ${failure.name}; building on the copies the restored entry keeps instead (${fallback.kept.map(k => k.name).join(', ')}), which a later run refreshes once the registry answers.`
    )
    const built = await run(fallback)
    return {
      built,
      report: { fromCache: fallback.kept.length, fellBack: `${failure.registry} ${answered}` }
    }
  }
}

/**
 * Loads each kept image into the engine under its name, as `docker load`
 * takes an archive: the layout's own blobs (linked, not copied), an index and
 * the manifest.json the classic store reads.
 */
async function loadIntoEngine(source: KeptSource, context: Pick<BasePlanContext, 'workDir' | 'env'>): Promise<void> {
  try {
    for (const [n, base] of source.kept.entries()) {
      const dir = path.join(context.workDir, `load-${n}`)
      const manifest = JSON.parse(await fs.promises.readFile(blobPath(source.layout, base.digest), 'utf8')) as {
        config?: { digest?: string }
        layers?: Array<{ digest?: string }>
      }
      const config = manifest.config?.digest
      const layers = (manifest.layers ?? []).map(l => l.digest ?? '')
      if (config === undefined || base.name.includes('@')) continue
      await fs.promises.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true })
      for (const digest of [base.digest, config, ...layers])
        await fs.promises
          .symlink(blobPath(source.layout, digest), blobPath(dir, digest))
          .catch(error => (error.code === 'EEXIST' ? undefined : Promise.reject(error)))
      const blob = (digest: string): string => `blobs/sha256/${digest.slice('sha256:'.length)}`
      await fs.promises.writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
      await fs.promises.writeFile(
        path.join(dir, 'index.json'),
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [{ mediaType: base.mediaType, digest: base.digest, size: base.size }]
        })
      )
      await fs.promises.writeFile(
        path.join(dir, 'manifest.json'),
        JSON.stringify([{ Config: blob(config), RepoTags: [base.name], Layers: layers.map(blob) }])
      )
      const archive = `${dir}.tar`
      const packed = await exec.exec('tar', ['-c', '-h', '-f', archive, '-C', dir, '.'], {
        ignoreReturnCode: true,
        silent: true
      })
      const loaded = packed === 0 ? await docker(['load', '--input', archive], { env: context.env }) : undefined
      if (loaded?.exitCode !== 0)
        core.warning(
          `Could not load the kept base image ${base.name} into the engine: ${errorLine(loaded?.output ?? '', 'tar failed')}`
        )
      else core.info(`Loaded the kept base image ${base.name} into the engine, which builds on it.`)
    }
  } finally {
    await removeDir(context.workDir)
  }
}

/** The kept bases a layout names, each with its manifest present. */
export async function keptIn(layout: string): Promise<KeptBase[]> {
  try {
    const index = JSON.parse(await fs.promises.readFile(path.join(layout, 'index.json'), 'utf8'))
    const kept = keptBases(index)
    const present = await Promise.all(kept.map(k => exists(blobPath(layout, k.digest))))
    return kept.filter((_, i) => present[i])
  } catch {
    return []
  }
}

// An image the engine holds itself (built or pulled by an earlier step) is
// what the user means on the docker driver, which builds on it: left alone.
async function leftToTheEngine(kept: KeptBase[], context: Pick<BasePlanContext, 'dockerDriver' | 'env'>) {
  if (!context.dockerDriver) return kept
  const local = await Promise.all(kept.map(k => inEngine(k.name, context.env)))
  return kept.filter((_, i) => !local[i])
}

async function inEngine(name: string, env: Record<string, string>): Promise<boolean> {
  const { exitCode } = await docker(['image', 'inspect', '--format', '{{.Id}}', name], { env })
  return exitCode === 0
}

export interface KeepContext {
  inputs: Inputs
  /** The layout the build exported, which the entry saves. */
  layout: string
  /** The builder the build ran on, unless the current one. */
  builder?: string
  dockerDriver: boolean
  /** A directory of this run's own, removed whatever happens. */
  workDir: string
  env: Record<string, string>
}

/**
 * Adds to the exported layout a copy of each base image the build used: those
 * it resolved from registries, exported through the same builder (which holds
 * them already) with the cache's compression, so that their layers are the
 * very blobs the cache holds; or, when the build fell back on kept copies,
 * those copies. Never fails the job: a base that cannot be kept is said.
 */
export async function keepBases(
  plan: BasePlan,
  report: BaseImagesReport,
  built: BuildOutcome,
  context: KeepContext
): Promise<BaseImagesReport> {
  if (plan.kind !== 'registry-first') return report
  let added = 0
  const kept: KeptBase[] = []
  try {
    if (report.fellBack !== undefined && plan.fallback) {
      for (const base of plan.fallback.kept) {
        added += await copyImage(plan.fallback.layout, context.layout, base.digest)
        kept.push(base)
      }
    } else {
      const bases = await registryBases(built.bases, context)
      for (const [i, base] of bases.entries()) {
        const copy = await exportBase(base, i, context)
        if ('problem' in copy) {
          core.warning(`Could not keep the base image ${base.name} with the entry: ${copy.problem}`)
          continue
        }
        added += await copyImage(copy.layout, context.layout, copy.descriptor.digest)
        kept.push({ name: base.name, resolved: base.digest, ...copy.descriptor })
      }
    }
    if (kept.length === 0) return { ...report, notKept: 'the build resolved no base image from a registry' }
    await addToIndex(context.layout, kept)
  } catch (error) {
    core.warning(`Could not keep the base images with the entry: ${(error as Error).message}`)
    return { ...report, notKept: (error as Error).message }
  } finally {
    await removeDir(context.workDir)
  }
  core.info(
    `Kept ${kept.length} base image(s) with the entry (${kept.map(k => `${k.name} at ${k.resolved}`).join(', ')}): they add ${megabytes(added, 3)}, their layers being the cache's own.`
  )
  return { ...report, kept: { count: kept.length, addedBytes: added } }
}

async function registryBases(bases: ResolvedBase[], context: KeepContext): Promise<ResolvedBase[]> {
  // A build on the docker driver takes an image the engine holds; a builder of its own sees none.
  if (!context.dockerDriver || context.builder !== undefined) return bases
  const local = await Promise.all(bases.map(b => inEngine(b.name, context.env)))
  return bases.filter((_, i) => !local[i])
}

interface ExportedBase {
  layout: string
  descriptor: { digest: string; mediaType: string; size: number }
}

// `FROM <name>@<digest>` exported as an OCI layout: the image the build used,
// its layers compressed as the cache's are, which the builder has at hand.
async function exportBase(
  base: ResolvedBase,
  n: number,
  context: KeepContext
): Promise<ExportedBase | { problem: string }> {
  const dir = path.join(context.workDir, `base-${n}`)
  const layout = path.join(dir, 'layout')
  await fs.promises.mkdir(dir, { recursive: true })
  const pinned = base.name.includes('@') ? base.name : `${base.name}@${base.digest}`
  await fs.promises.writeFile(path.join(dir, 'Dockerfile'), `FROM ${pinned}\n`)
  const choice = context.inputs.cacheCompression
  const args = ['buildx', 'build', '--progress=plain']
  if (context.builder) args.push('--builder', context.builder)
  if (base.platform) args.push('--platform', base.platform)
  args.push(
    '--output',
    attributes(
      ['type', 'oci'],
      ['dest', layout],
      ['tar', 'false'],
      ['compression', choice],
      ['force-compression', 'true']
    ),
    '--file',
    path.join(dir, 'Dockerfile'),
    dir
  )
  const { exitCode, output } = await docker(args, { env: context.env })
  if (exitCode !== 0) return { problem: errorLine(output, `docker buildx exit code ${exitCode}`) }
  const index = JSON.parse(await fs.promises.readFile(path.join(layout, 'index.json'), 'utf8')) as {
    manifests?: Array<{ digest?: string; mediaType?: string; size?: number }>
  }
  const first = index.manifests?.[0]
  if (!first?.digest || !first.mediaType || typeof first.size !== 'number')
    return { problem: 'the exported layout names no image' }
  return { layout, descriptor: { digest: first.digest, mediaType: first.mediaType, size: first.size } }
}

/** Copies an image (its manifest or index, and all it names) into another layout; the bytes it added. */
async function copyImage(from: string, to: string, digest: string): Promise<number> {
  let added = 0
  const pending = [digest]
  const seen = new Set<string>()
  while (pending.length > 0) {
    const next = pending.shift() as string
    if (seen.has(next)) continue
    seen.add(next)
    const source = blobPath(from, next)
    const target = blobPath(to, next)
    const size = (await fs.promises.stat(source)).size
    if (!(await exists(target))) {
      await fs.promises.mkdir(path.dirname(target), { recursive: true })
      await fs.promises.copyFile(source, target)
      added += size
    }
    // Manifests, indexes and configs are small JSON documents; layers are never opened.
    if (size < 1024 * 1024) pending.push(...namedBlobs(await fs.promises.readFile(source)))
  }
  return added
}

function namedBlobs(text: Buffer): string[] {
  let document: unknown
  try {
    document = JSON.parse(text.toString('utf8'))
  } catch {
    return []
  }
  if (typeof document !== 'object' || document === null) return []
  const { manifests, layers, config, mediaType } = document as Record<string, unknown>
  if (typeof mediaType === 'string' && !/(manifest|index)/.test(mediaType) && config === undefined) return []
  return [...(Array.isArray(manifests) ? manifests : []), ...(Array.isArray(layers) ? layers : []), config]
    .map(d => (d as { digest?: unknown } | undefined)?.digest)
    .filter((d): d is string => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))
}

async function addToIndex(layout: string, kept: KeptBase[]): Promise<void> {
  const file = path.join(layout, 'index.json')
  const index = JSON.parse(await fs.promises.readFile(file, 'utf8')) as { manifests?: unknown[] }
  const names = new Set(kept.map(k => k.name))
  const others = (index.manifests ?? []).filter(m => !keptBases({ manifests: [m] }).some(k => names.has(k.name)))
  index.manifests = [...others, ...kept.map(keptDescriptor)]
  await fs.promises.writeFile(file, JSON.stringify(index))
}

async function exists(p: string): Promise<boolean> {
  return (await fs.promises.stat(p).catch(() => undefined))?.isFile() ?? false
}
