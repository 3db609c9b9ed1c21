import * as core from '@actions/core'
import { randomUUID } from 'node:crypto'
import * as path from 'node:path'
import { createStore } from '../cache/create.js'
import type { Exported } from '../cache/store.js'
import { Input, Output } from '../constants.js'
import { build, buildDir, BuildError } from '../docker/build.js'
import { secretMasks } from '../docker/build-secrets.js'
import { builderFacts } from '../docker/builder.js'
import { resolveDefaultBranch } from '../github/default-branch.js'
import { currentEventFacts, runContext } from '../github/event.js'
import { writeDecision, writerBranches } from '../github/write-policy.js'
import { currentRunner } from '../github/runner.js'
import { InputError, parseInputs } from '../inputs.js'
import { logHashInputs } from '../key/hash-log.js'
import { imageHash } from '../key/hash.js'
import { cacheSourceOf, isPartialKey, keyPlan, sameContent } from '../key/key.js'
import { saveCleanup, saveStepState, type StepState } from './step-state.js'
import { buildOnBases, describePlan, keepBases, planBases, type BaseImagesReport } from './base-images.js'
import { restoreOrReuse, type RestoreOutcome } from './restore.js'
import { prepareExport } from './prepare-export.js'
import {
  mountsAfterBuild,
  mountsAfterFailure,
  mountsBeforeBuild,
  mountsDir,
  mountsOfBuild
} from '../mounts/mount-step.js'
import { restoredCount } from '../mounts/report.js'
import { keepProgress, progressDir } from './progress.js'
import { partialRestoredLine } from './progress-words.js'
import { refreshIfDue } from './refresh.js'
import { staleness } from './staleness.js'
import { describeSave, plannedSave, saveBecause, skipBecause, type SaveDecision } from './save-decision.js'

export async function runMain(): Promise<void> {
  try {
    await mainStep()
  } catch (error) {
    if (error instanceof InputError || error instanceof BuildError) core.setFailed(error.message)
    else core.setFailed(`Unexpected error: ${(error as Error).stack ?? error}`)
  }
}

// Key → restore → build (exporting only what will be saved) → judge what the
// build reused → refresh a stale entry. The post step saves; the step state
// tells it what happened here.
async function mainStep(): Promise<void> {
  const runner = currentRunner()
  const inputs = parseInputs(name => core.getInput(name), runner.workspace, runner.env)
  for (const mask of secretMasks(inputs.secrets)) core.setSecret(mask)
  // Asked while the branch is resolved and the key hashed: the docker calls
  // cost about a tenth of a second.
  const builderAnswer = builderFacts()
  const facts = currentEventFacts(runner)
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
  // The docker driver's BuildKit runs in the engine, on the host's network,
  // as does the builder the action creates: both reach a server on loopback.
  // restore-timeout bounds the restore, which the builder's reads during the
  // build would outlast: with it, the entry is written to disk first.
  const serveBlobs = builder.driver === 'docker' && inputs.restoreTimeoutSeconds === undefined
  const store = createStore(storeConfig, runner, serveBlobs)
  const workDir = buildDir(runner.temp)
  const cutDir = progressDir(runner.temp)
  const basesDir = path.join(runner.temp, 'buildx-ci-cache', 'bases')
  saveCleanup([...store.temporaryPaths(), workDir, cutDir, basesDir, mountsDir(runner.temp)])
  const restored = inputs.noCache
    ? notRestored()
    : await core.group('Restore the cache', () =>
        restoreOrReuse(store, plan, inputs.restoreTimeoutSeconds, {
          tag: inputs.tags[0] ?? inputs.image,
          builder: builder.name
        })
      )
  const entry = restored.restored
  // An entry that could not be imported restored nothing; it is still
  // judged below, so that one of this content gets replaced.
  const usedKey = entry?.problem === undefined ? entry?.matchedKey : undefined
  const source = restored.fromEngine ? 'engine' : cacheSourceOf(plan, usedKey)
  const cacheHit = sameContent(plan, usedKey)
  core.setOutput(Output.MatchedKey, usedKey ?? '')
  core.setOutput(Output.CacheHit, String(cacheHit))
  core.setOutput(Output.CacheSource, source)
  core.setOutput(Output.RestoreTime, restored.seconds.toFixed(1))
  if (usedKey !== undefined && isPartialKey(usedKey)) core.info(partialRestoredLine(usedKey))

  const write = writeDecision(ctx)
  const exportContext = { store, builder, createBuilder: inputs.createBuilder }
  // no-cache builds everything afresh: a run that may write saves it whatever the store holds.
  const freshSave = write.allowed
    ? saveBecause({ kind: 'no-cache' })
    : skipBecause({ kind: 'denied', denial: write.denial })
  const exporting = await prepareExport(
    inputs.noCache ? freshSave : plannedSave({ write, plan, source, entry, restoreTimedOut: restored.timedOut }),
    exportContext
  )
  let decision = exporting.decision
  const basePlan = await planBases({
    inputs,
    restored: entry?.from ?? [],
    entryDir: entry?.dir,
    matchedKey: usedKey,
    mayWrite: write.allowed,
    dockerDriver: builder.driver === 'docker' && exporting.builder === undefined,
    classicStore: !builder.containerdStore,
    workDir: basesDir,
    env: runner.env
  })
  core.info(describePlan(basePlan))
  const mountsContext = { inputs, builder: exporting.builder, temp: runner.temp, env: runner.env }
  const cacheMounts = await mountsOfBuild(inputs)
  const mounts = await mountsBeforeBuild(cacheMounts, entry, restored.fromEngine === true, mountsContext)
  core.setOutput(Output.CacheMountsRestored, restoredCount(mounts))

  const state: StepState = {
    image: inputs.image,
    key: plan.content,
    matchedKey: usedKey ?? '',
    source,
    cacheHit,
    stale: false,
    store: storeConfig,
    restore:
      entry && !restored.fromEngine
        ? {
            sizeBytes: entry.sizeBytes,
            seconds: restored.seconds,
            movedBytes: entry.movedBytes,
            served: entry.served
          }
        : undefined,
    unusable: entry?.problem !== undefined ? { key: entry.matchedKey, problem: entry.problem } : undefined,
    save: decision,
    saveTimeoutSeconds: inputs.saveTimeoutSeconds,
    deleteSuperseded: inputs.deleteSuperseded,
    summary: inputs.summary,
    mounts
  }
  const started = Date.now()
  const seconds = (): number => (Date.now() - started) / 1000
  try {
    const { built, report: baseReport } = await core.group(`Build ${inputs.image}`, () =>
      buildOnBases(basePlan, { workDir: basesDir, env: runner.env }, bases =>
        build(
          inputs,
          { from: entry?.from ?? [], to: exporting.location, bases },
          {
            builder: exporting.builder,
            output: 'image',
            // Only the current builder outlives this job with the cache the label vouches for.
            origin:
              exporting.builder === undefined && builder.name !== undefined
                ? { key: plan.content, builder: builder.name }
                : undefined
          },
          workDir,
          runner.env
        )
      )
    )
    state.bases = baseReport
    state.build = {
      seconds: seconds(),
      steps: built.steps,
      retriedWithoutCache: built.retriedWithoutCache,
      succeeded: true
    }
    // At most one build exports: this one, or the refresh after an exact hit, which exported nothing here.
    let exportError = built.cacheExportError
    core.info(`${built.steps.cached} of ${built.steps.total} steps were cached.`)
    core.setOutput(Output.ImageId, built.imageId)
    core.setOutput(Output.Digest, built.digest)
    core.setOutput(Output.BuildTime, state.build.seconds.toFixed(1))

    const judged = staleness(plan, entry, built)
    state.stale = judged !== undefined
    core.setOutput(Output.CachedSteps, `${built.steps.cached}/${built.steps.total}`)
    core.setOutput(Output.CacheStale, String(state.stale))
    let exportedBy = exporting
    if (judged) {
      const refreshed = await refreshIfDue(decision, judged, {
        ...exportContext,
        inputs,
        writers: writerBranches(ctx),
        entry,
        built,
        workDir,
        env: runner.env
      })
      decision = refreshed.decision
      exportError = refreshed.exportError ?? exportError
      exportedBy = refreshed.exporting ?? exportedBy
    }
    if (decision.save && exportedBy.location)
      state.bases = await keptWithEntry(basePlan, baseReport, built, {
        inputs,
        to: exportedBy.location,
        contentKey: plan.content,
        builder: exportedBy.builder,
        dockerDriver: builder.driver === 'docker' && exportedBy.builder === undefined,
        workDir: basesDir,
        env: runner.env
      })

    const exported = decision.save ? await store.exported(exportError) : undefined
    core.setOutput(Output.CacheSize, String(exported?.sizeBytes ?? entry?.sizeBytes ?? 0))
    if (exported) decision = checkedExport(decision, exported, inputs.maxCacheSizeBytes)
    if (decision.save && exporting.location)
      state.mounts = await mountsAfterBuild(
        cacheMounts,
        mounts,
        { location: exporting.location, contentKey: plan.content, from: entry?.from ?? [] },
        mountsContext
      )
    state.save = decision
  } catch (error) {
    state.build = { seconds: seconds(), steps: { total: 0, cached: 0 }, retriedWithoutCache: false, succeeded: false }
    state.save = skipBecause({ kind: 'build-failed' })
    if (error instanceof BuildError) {
      const kept = await keepProgress(error, {
        inputs,
        plan,
        store,
        exporting,
        entry,
        workDir,
        progressDir: cutDir,
        env: runner.env
      })
      state.save = kept.decision
      state.progress = kept.report
      // What the failed steps left in their mounts (a half-done compile's cache) is kept with their progress.
      if (kept.decision.save && kept.decision.why.kind === 'progress' && exporting.location)
        state.mounts = await mountsAfterFailure(
          cacheMounts,
          mounts,
          error,
          { location: exporting.location, contentKey: kept.decision.why.key, from: entry?.from ?? [] },
          mountsContext
        )
    }
    throw error
  } finally {
    const released = await store.release?.()
    if (released) {
      if (state.restore) state.restore.movedBytes = released.movedBytes
      if (entry && released.problems.length > 0) servedEntryFailed(state, entry.matchedKey, released.problems)
    }
    saveStepState(state)
  }
}

// The builder could not read every blob of the entry served to it: the build
// went on without it (build.ts retries without the cache), so the outputs
// and the summary say it restored nothing, as for an entry found unusable
// before the build.
function servedEntryFailed(state: StepState, key: string, problems: string[]): void {
  core.warning(`The build could not read all of the restored entry ${key}: ${problems.join('; ')}`)
  if (!state.build?.retriedWithoutCache) return
  state.unusable = { key, problem: problems[0] as string }
  state.matchedKey = ''
  state.source = 'none'
  state.cacheHit = false
  core.setOutput(Output.MatchedKey, '')
  core.setOutput(Output.CacheHit, 'false')
  core.setOutput(Output.CacheSource, 'none')
}

function keptWithEntry(...args: Parameters<typeof keepBases>): Promise<BaseImagesReport> {
  return core.group('Keep the base images with the entry', () => keepBases(...args))
}

/** The decision to save, unless what was exported can't or shouldn't be: then why not, in a warning. */
function checkedExport(decision: SaveDecision, exported: Exported, limitBytes: number): SaveDecision {
  let checked = decision
  if (exported.problem !== undefined) checked = skipBecause({ kind: 'export-failed', problem: exported.problem })
  else if (limitBytes > 0 && exported.sizeBytes > limitBytes)
    checked = skipBecause({ kind: 'too-large', sizeBytes: exported.sizeBytes, limitBytes })
  if (checked !== decision) core.warning(`Not saving the cache: ${describeSave(checked)}`)
  return checked
}

// no-cache: a cache the build would ignore is not worth its download.
function notRestored(): RestoreOutcome {
  core.info('no-cache is set: nothing is restored, and the image is built without any cache.')
  return { seconds: 0, timedOut: false }
}
