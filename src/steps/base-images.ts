import * as core from '@actions/core'
import { addToIndex, copyImage, keptIn, packedBlobs } from '../cache/base-layout.js'
import { basesRef, keptInRepository, nameInRepository } from '../cache/registry-bases.js'
import type { CacheLocation } from '../cache/store.js'
import { exportBase } from '../docker/base-export.js'
import { baseFailureSentence, baseResolveFailure, type KeptBase, type ResolvedBase } from '../docker/base-images.js'
import { loadIntoEngine } from '../docker/base-load.js'
import { BuildError, type BuildOutcome } from '../docker/build.js'
import type { BuildCache } from '../docker/buildx-args.js'
import { docker } from '../docker/docker-cli.js'
import { removeDir } from '../fsutil.js'
import type { Inputs } from '../inputs.js'
import { megabytes } from '../megabytes.js'

// The images a Dockerfile starts from travel with the entry: a run that
// writes keeps a copy of each base image its build resolved (in the exported
// layout for gha and local, in the cache's repository for registry; the
// layers are the cache's own blobs, so only a manifest and a config are
// added); a run that restores the entry builds on exactly those, through
// `--build-context <name>=oci-layout://<layout>@<digest>` (or
// `docker-image://<cache repository>@<digest>`), and asks no other registry
// for them. A run that writes still asks the registries first, so a tag that
// moved is built on and kept; when a registry cannot answer, it falls back
// to the kept copy.

/**
 * The kept images of the restored entry, and how the build gets them: as
 * named contexts from `source`, or (the docker driver on the classic image
 * store, whose BuildKit has no oci-layout source) loaded into the engine
 * under their names first, which that driver builds on without asking a
 * registry.
 */
export interface KeptSource {
  kept: KeptBase[]
  /** `oci-layout://<dir>` or `docker-image://<repository>`. */
  source: string
  /** The restored layout that holds them (gha and local). */
  layout?: string
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
  /** Kept with the entry this run saves: how many, and the bytes they add to it (unknown in a registry). */
  kept?: { count: number; addedBytes?: number }
  /** Why nothing is kept, when something could have been. */
  notKept?: string
}

export interface BasePlanContext {
  inputs: Inputs
  /** Where the restored entry was imported from, and its key. */
  restored: CacheLocation[]
  /** The restored entry's own files, when it is served to the builder (gha: its index and manifest of packs). */
  entryDir?: string
  matchedKey?: string
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
  const found = await keptOfEntry(context)
  const usable = found ? await leftToTheEngine(found.kept, context) : []
  const bases = found && usable.length > 0 ? { ...found, kept: usable } : undefined
  if (context.mayWrite) return { kind: 'registry-first', fallback: bases }
  return bases ? { kind: 'kept', bases } : { kind: 'registry', why: 'the restored entry keeps no base image' }
}

async function keptOfEntry(context: BasePlanContext): Promise<KeptSource | undefined> {
  const location = context.restored[0]
  if (location === undefined) return undefined
  if (location.type === 'local') {
    const via = context.dockerDriver && context.classicStore ? 'engine' : 'context'
    return { kept: await keptIn(location.dir), source: `oci-layout://${location.dir}`, layout: location.dir, via }
  }
  if (context.entryDir !== undefined) {
    // An entry of packs served to the builder as a registry: its index names
    // the kept images, and the same server gives them out by digest.
    const repository = location.ref.replace(/:[^:/]+$/, '')
    return {
      kept: await keptIn(context.entryDir, await packedBlobs(context.entryDir)),
      source: `docker-image://${repository}`,
      via: 'context'
    }
  }
  if (context.matchedKey === undefined) return undefined
  const repository = context.inputs.cacheRef
  return {
    kept: await keptInRepository(repository, context.matchedKey),
    source: `docker-image://${repository}`,
    via: 'context'
  }
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
    if (source === undefined) return build(undefined)
    if (source.via === 'context') return build({ kept: source.kept, source: source.source })
    await loadIntoEngine(source.kept, source.layout ?? '', context.workDir, context.env)
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
  /** Where the build exported the entry this run saves, and its content key. */
  to: CacheLocation
  contentKey: string
  /** The builder the build ran on, unless the current one. */
  builder?: string
  dockerDriver: boolean
  /** A directory of this run's own, removed whatever happens. */
  workDir: string
  env: Record<string, string>
}

/**
 * Keeps with the exported entry a copy of each base image the build used:
 * those it resolved from registries, exported through the same builder
 * (which holds them already) with the cache's compression, so that their
 * layers are the very blobs the cache holds; or, when the build fell back on
 * kept copies, those copies. Never fails the job: what cannot be kept is said.
 */
export async function keepBases(
  plan: BasePlan,
  report: BaseImagesReport,
  built: BuildOutcome,
  context: KeepContext
): Promise<BaseImagesReport> {
  if (plan.kind !== 'registry-first') return report
  const started = Date.now()
  try {
    const carried = report.fellBack !== undefined ? plan.fallback : undefined
    const kept = carried ? await carryForward(carried, context) : await keepResolved(built.bases, context)
    if (kept.bases.length === 0) return { ...report, notKept: 'the build resolved no base image from a registry' }
    if (context.to.type === 'local') await addToIndex(context.to.dir, kept.bases)
    else {
      const named = await nameInRepository(context.inputs.cacheRef, context.contentKey, kept.bases)
      if (!named.ok) throw new Error(`the index naming them could not be pushed: ${named.error}`)
    }
    const where = context.to.type === 'local' ? '' : ' in the cache repository'
    const cost =
      kept.addedBytes === undefined
        ? "their layers are the cache's own"
        : `they add ${megabytes(kept.addedBytes, 3)}, their layers being the cache's own`
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    core.info(
      `Kept ${kept.bases.length} base image(s) with the entry${where} in ${seconds} s (${kept.bases.map(k => `${k.name} at ${k.resolved}`).join(', ')}): ${cost}.`
    )
    return { ...report, kept: { count: kept.bases.length, addedBytes: kept.addedBytes } }
  } catch (error) {
    core.warning(`Could not keep the base images with the entry: ${(error as Error).message}`)
    return { ...report, notKept: (error as Error).message }
  } finally {
    await removeDir(context.workDir)
  }
}

interface Kept {
  bases: KeptBase[]
  addedBytes?: number
}

async function carryForward(source: KeptSource, context: KeepContext): Promise<Kept> {
  if (context.to.type !== 'local' || source.layout === undefined) return { bases: source.kept }
  let added = 0
  for (const base of source.kept) added += await copyImage(source.layout, context.to.dir, base.digest)
  return { bases: source.kept, addedBytes: added }
}

async function keepResolved(resolved: ResolvedBase[], context: KeepContext): Promise<Kept> {
  const to = context.to
  const bases: KeptBase[] = []
  let added = 0
  for (const [i, base] of (await registryBases(resolved, context)).entries()) {
    const copy = await exportBase(base, i, {
      builder: context.builder,
      compression: context.inputs.cacheCompression,
      workDir: context.workDir,
      env: context.env,
      to:
        to.type === 'local'
          ? { kind: 'layout' }
          : { kind: 'repository', name: basesRef(context.inputs.cacheRef, context.contentKey) }
    })
    if ('problem' in copy) {
      core.warning(`Could not keep the base image ${base.name} with the entry: ${copy.problem}`)
      continue
    }
    if (to.type === 'local' && copy.layout !== undefined)
      added += await copyImage(copy.layout, to.dir, copy.descriptor.digest)
    bases.push({ name: base.name, resolved: base.digest, ...copy.descriptor })
  }
  return { bases, addedBytes: to.type === 'local' ? added : undefined }
}

async function registryBases(bases: ResolvedBase[], context: KeepContext): Promise<ResolvedBase[]> {
  // A build on the docker driver takes an image the engine holds; a builder of its own sees none.
  if (!context.dockerDriver || context.builder !== undefined) return bases
  const local = await Promise.all(bases.map(b => inEngine(b.name, context.env)))
  return bases.filter((_, i) => !local[i])
}
