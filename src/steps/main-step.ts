import * as core from '@actions/core'
import { randomUUID } from 'node:crypto'
import { createStore } from '../cache/create.js'
import type { CacheLocation, CacheStore, Exported, Restored } from '../cache/store.js'
import { Input, Output } from '../constants.js'
import { build, buildDir, BuildError, type Built } from '../docker/build.js'
import { secretMasks } from '../docker/buildx.js'
import { builderFacts, pickBuilder, type BuilderFacts } from '../docker/builder.js'
import {
  currentEventFacts,
  resolveDefaultBranch,
  runContext,
  writeDecision,
  writerBranches
} from '../github/context.js'
import { currentRunner } from '../github/runner.js'
import { InputError, parseInputs, type Inputs } from '../inputs.js'
import { logHashInputs } from '../key/hash-log.js'
import { imageHash } from '../key/hash.js'
import { cacheSourceOf, keyPlan, sameContent } from '../key/key.js'
import { saveBuilderCleanup, saveCleanup, saveReport, type Report } from './report.js'
import { restore, type RestoreOutcome } from './restore.js'
import { plannedSave, staleness, type Staleness } from './staleness.js'
import { describeSave, save, skip, type SaveDecision } from './save-decision.js'

export async function runMain(): Promise<void> {
  try {
    await mainStep()
  } catch (error) {
    if (error instanceof InputError || error instanceof BuildError) core.setFailed(error.message)
    else core.setFailed(`Unexpected error: ${(error as Error).stack ?? error}`)
  }
}

// Key → restore → build (exporting only what will be saved) → judge what the
// build reused → refresh a stale entry. The post step saves; the report in
// the state tells it what happened here.
async function mainStep(): Promise<void> {
  const runner = currentRunner()
  const inputs = parseInputs(name => core.getInput(name), runner.workspace)
  for (const mask of secretMasks(inputs.secrets)) core.setSecret(mask)
  // Asked while the branch is resolved and the key hashed: the docker calls
  // cost about a tenth of a second.
  const builderAnswer = builderFacts()
  const facts = currentEventFacts()
  const defaultBranch = await resolveDefaultBranch(facts, inputs.defaultBranch, core.getInput(Input.GithubToken))
  const ctx = runContext(facts, defaultBranch.name, inputs.saveBranches)

  const hashed = await core.group('Cache key', async () => {
    const result = await imageHash(inputs, runner.workspace, () =>
      builderAnswer.then(b => b.defaultPlatform ?? 'unknown')
    )
    logHashInputs(result)
    return result
  })
  const builder = await builderAnswer
  if (builder.unavailable) {
    throw new BuildError(
      `docker buildx is not available (${builder.unavailable}). Install Docker with the buildx plugin, or add docker/setup-buildx-action before this step.`
    )
  }
  const plan = keyPlan({ prefix: inputs.keyPrefix, image: inputs.image, ...ctx, hash: hashed.hash })
  core.info(`Primary key: ${plan.content}`)
  core.setOutput(Output.Key, plan.content)

  const storeConfig = {
    backend: inputs.cacheBackend,
    image: inputs.image,
    cacheRoot: inputs.cacheRoot,
    cacheRef: inputs.cacheRef,
    jobId: randomUUID(),
    stallSeconds: inputs.stallTimeoutSeconds
  }
  const store = createStore(storeConfig, runner.temp)
  const workDir = buildDir(runner.temp)
  saveCleanup([...store.temporaryPaths(), workDir])
  const restored = inputs.noCache
    ? notRestored()
    : await core.group('Restore the cache', () => restore(store, plan, inputs.restoreTimeoutSeconds))
  const entry = restored.restored
  // An entry that could not be imported restored nothing; it is still
  // judged below, so that one of this content gets replaced.
  const usedKey = entry?.problem === undefined ? entry?.matchedKey : undefined
  const source = cacheSourceOf(plan, usedKey)
  const cacheHit = sameContent(plan, usedKey)
  core.setOutput(Output.MatchedKey, usedKey ?? '')
  core.setOutput(Output.CacheHit, String(cacheHit))
  core.setOutput(Output.CacheSource, source)
  core.setOutput(Output.RestoreTime, restored.seconds.toFixed(1))

  const write = writeDecision(ctx)
  const exporter = new Exporter(store, builder, inputs.createBuilder)
  // no-cache builds everything afresh: a run that may write saves it whatever the store holds.
  const freshSave = write.allowed ? save({ kind: 'no-cache' }) : skip({ kind: 'denied', denial: write.denial })
  let decision = await exporter.prepare(
    inputs.noCache ? freshSave : plannedSave({ write, plan, source, entry, restoreTimedOut: restored.timedOut })
  )

  const report: Report = {
    image: inputs.image,
    key: plan.content,
    matchedKey: usedKey ?? '',
    source,
    cacheHit,
    stale: false,
    store: storeConfig,
    restore: entry ? { sizeBytes: entry.sizeBytes, seconds: restored.seconds } : undefined,
    unusable: entry?.problem !== undefined ? { key: entry.matchedKey, problem: entry.problem } : undefined,
    save: decision,
    saveTimeoutSeconds: inputs.saveTimeoutSeconds,
    deleteSuperseded: inputs.deleteSuperseded,
    summary: inputs.summary
  }
  const started = Date.now()
  const seconds = (): number => (Date.now() - started) / 1000
  try {
    const built = await core.group(`Build ${inputs.image}`, () =>
      build(
        inputs,
        { from: entry?.from ?? [], to: exporter.location },
        { builder: exporter.builder, output: 'image' },
        workDir
      )
    )
    report.build = {
      seconds: seconds(),
      steps: built.steps,
      retriedWithoutCache: built.retriedWithoutCache,
      succeeded: true
    }
    exporter.failure = built.cacheExportError
    core.info(`${built.steps.cached} of ${built.steps.total} steps were cached.`)
    core.setOutput(Output.ImageId, built.imageId)
    core.setOutput(Output.Digest, built.digest)
    core.setOutput(Output.BuildTime, report.build.seconds.toFixed(1))

    const judged = staleness(plan, entry, built)
    report.stale = judged !== undefined
    core.setOutput(Output.CachedSteps, `${built.steps.cached}/${built.steps.total}`)
    core.setOutput(Output.CacheStale, String(report.stale))
    if (judged)
      decision = await refreshIfDue(decision, judged, writerBranches(ctx), what =>
        refresh(inputs, exporter, judged, what, entry, built, workDir)
      )

    const exported = decision.save ? await store.exported(exporter.failure) : undefined
    core.setOutput(Output.CacheSize, String(exported?.sizeBytes ?? entry?.sizeBytes ?? 0))
    if (exported) decision = checkedExport(decision, exported, inputs.maxCacheSizeBytes)
    report.save = decision
  } catch (error) {
    report.build = { seconds: seconds(), steps: { total: 0, cached: 0 }, retriedWithoutCache: false, succeeded: false }
    report.save = skip({ kind: 'build-failed' })
    throw error
  } finally {
    saveReport(report)
  }
}

/** The decision to save, unless what was exported can't or shouldn't be: then why not, in a warning. */
function checkedExport(decision: SaveDecision, exported: Exported, limitBytes: number): SaveDecision {
  let checked = decision
  if (exported.problem !== undefined) checked = skip({ kind: 'export-failed', problem: exported.problem })
  else if (limitBytes > 0 && exported.sizeBytes > limitBytes)
    checked = skip({ kind: 'too-large', sizeBytes: exported.sizeBytes, limitBytes })
  if (checked !== decision) core.warning(`Not saving the cache: ${describeSave(checked)}`)
  return checked
}

/**
 * Where and with which builder the build exports. Exporting costs time: it is
 * set up only for a run that will save, or later for one that must refresh a
 * stale entry.
 */
class Exporter {
  location?: CacheLocation
  builder?: string
  /** What buildx printed when the last export to `location` failed (it is told to ignore export errors). */
  failure?: string

  constructor(
    private readonly store: CacheStore,
    private readonly facts: BuilderFacts,
    private readonly createBuilder: boolean
  ) {}

  /** The decision, unless exporting is impossible: then why nothing will be saved. */
  async prepare(decision: SaveDecision): Promise<SaveDecision> {
    const picked = await pickBuilder(this.facts, decision.save, this.createBuilder)
    this.builder = picked.name
    if (picked.name) saveBuilderCleanup(picked.name)
    if (!decision.save) return decision
    if (picked.exportBlocked) return skip({ kind: 'cannot-export' })
    try {
      this.location = await this.store.exportTo()
      return decision
    } catch (error) {
      const nowhere = skip({ kind: 'nowhere-to-export', detail: (error as Error).message })
      core.warning(`Building without saving a cache: ${describeSave(nowhere)}`)
      return nowhere
    }
  }
}

/**
 * A stale entry: said plainly, and replaced when this run may write and has
 * not exported yet (an exact hit, which exports nothing in the common case).
 */
async function refreshIfDue(
  decision: SaveDecision,
  stale: Staleness,
  writers: string[],
  refreshNow: (what: string) => Promise<SaveDecision>
): Promise<SaveDecision> {
  const what =
    stale.kind === 'broken'
      ? `the restored entry could not be used (${stale.problem})`
      : `the cache matched but ${stale.total - stale.cached} of ${stale.total} steps were rebuilt (a base image may have moved)`
  if (decision.save) {
    core.notice(`${capitalize(what)}; this run saves a fresh entry.`)
    return decision
  }
  if (decision.skip.kind !== 'exact-hit') {
    core.notice(
      `${capitalize(what)}; the next run that may write (push, schedule or workflow_dispatch on ${writers.join(', ')}) refreshes it.`
    )
    return decision
  }
  return refreshNow(capitalize(what))
}

// Everything the build made is in the builder by now: exporting it is a
// second build whose steps are all cached. A builder that cannot export
// (the docker driver on the classic image store) gets a docker-container
// builder, which has none of it and rebuilds what the cache does not hold.
async function refresh(
  inputs: Inputs,
  exporter: Exporter,
  stale: Staleness,
  what: string,
  entry: Restored | undefined,
  built: Built,
  workDir: string
): Promise<SaveDecision> {
  const decision = await exporter.prepare(
    save(stale.kind === 'broken' ? stale : { kind: 'stale', cached: stale.cached, total: stale.total })
  )
  if (!decision.save) {
    core.notice(`${what}; this run cannot refresh it (see the warning above).`)
    return decision
  }
  core.notice(`${what}; refreshing the entry.`)
  const from = built.retriedWithoutCache ? [] : (entry?.from ?? [])
  try {
    const exportBuild = await core.group('Export the refreshed cache', () =>
      build(inputs, { from, to: exporter.location }, { builder: exporter.builder, output: 'cache' }, workDir)
    )
    exporter.failure = exportBuild.cacheExportError
    return decision
  } catch (error) {
    core.warning(`Could not export the refreshed cache, so the stale entry stays: ${(error as Error).message}`)
    return skip({ kind: 'build-failed' })
  }
}

// no-cache: a cache the build would ignore is not worth its download.
function notRestored(): RestoreOutcome {
  core.info('no-cache is set: nothing is restored, and the image is built without any cache.')
  return { seconds: 0, timedOut: false }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
