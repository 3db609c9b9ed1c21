import * as core from '@actions/core'
import { build, buildDir, BuildError, pickBuilder } from './build-step.js'
import { builderFacts } from './builder.js'
import { Output } from './constants.js'
import { currentEventFacts, runContext, saveSkipReason, writeDecision } from './context.js'
import { dirSize, removeDir } from './fsutil.js'
import { imageHash } from './hash.js'
import { InputError, parseInputs } from './inputs.js'
import { cacheSourceOf, keyPlan } from './key.js'
import { logHashInputs, restore } from './restore-step.js'
import { saveCleanup, saveReport, type Report } from './state.js'
import { createStore } from './store.js'
import { mb } from './summary.js'

export async function runMain(): Promise<void> {
  try {
    await mainStep()
  } catch (error) {
    if (error instanceof InputError || error instanceof BuildError) core.setFailed(error.message)
    else core.setFailed(`Unexpected error: ${(error as Error).stack ?? error}`)
  }
}

// Key → restore → build (exporting only what will be saved) → rotate. The
// post step saves; the report in the state tells it what happened here.
async function mainStep(): Promise<void> {
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd()
  const inputs = parseInputs(name => core.getInput(name), workspace)
  for (const { value } of inputs.secrets) core.setSecret(value)
  const ctx = runContext(currentEventFacts(), inputs.defaultBranch)

  // Asked while the key is hashed: the two docker calls cost a fifth of a second.
  const builderAnswer = builderFacts()
  const hashed = await core.group('Cache key', async () => {
    const result = await imageHash(inputs, workspace)
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
  core.info(`Primary key: ${plan.primary}`)
  core.setOutput(Output.Key, plan.primary)

  const store = createStore(inputs.cacheBackend, inputs.image, inputs.cacheRoot)
  saveCleanup([...store.temporaryPaths(), buildDir()])
  const restored = await core.group('Restore the cache', () => restore(store, plan, inputs.restoreTimeoutSeconds))
  const matchedKey = restored.restored?.matchedKey ?? ''
  const source = cacheSourceOf(plan, restored.restored?.matchedKey)
  core.setOutput(Output.MatchedKey, matchedKey)
  core.setOutput(Output.CacheHit, String(source === 'exact'))
  core.setOutput(Output.CacheSource, source)
  core.setOutput(Output.RestoreTime, restored.seconds.toFixed(1))

  let skipSave = saveSkipReason(writeDecision(ctx), source === 'exact', plan.primary, restored.timedOut)
  const picked = await pickBuilder(builder, skipSave === undefined, inputs.createBuilder)
  if (picked.exportBlocked) skipSave = 'the builder cannot export a local cache (see the warning above).'
  // Exporting costs time; do it only when something will keep the result.
  let exportDir: string | undefined
  if (skipSave === undefined) {
    try {
      exportDir = await store.exportDir()
      saveCleanup([...store.temporaryPaths(), buildDir()])
    } catch (error) {
      skipSave = `there is nowhere to export the new cache: ${(error as Error).message}`
      core.warning(`Building without saving a cache: ${skipSave}`)
    }
  }

  const report: Report = {
    image: inputs.image,
    key: plan.primary,
    matchedKey,
    source,
    backend: inputs.cacheBackend,
    cacheRoot: inputs.cacheRoot,
    restore: restored.restored ? { sizeBytes: restored.restored.sizeBytes, seconds: restored.seconds } : undefined,
    skipSave,
    saveTimeoutSeconds: inputs.saveTimeoutSeconds,
    deleteSuperseded: inputs.deleteSuperseded,
    summary: inputs.summary
  }
  const started = Date.now()
  const seconds = (): number => (Date.now() - started) / 1000
  try {
    const built = await core.group(`Build ${inputs.image}`, () =>
      build(inputs, { from: restored.restored?.dir, to: exportDir }, picked.name)
    )
    report.build = { seconds: seconds(), steps: built.steps, retriedWithoutCache: built.retriedWithoutCache, succeeded: true }
    core.info(`${built.steps.cached} of ${built.steps.total} steps were cached.`)
    core.setOutput(Output.ImageId, built.imageId)
    core.setOutput(Output.Digest, built.digest)
    core.setOutput(Output.BuildTime, report.build.seconds.toFixed(1))

    const saveDir = exportDir ? await store.adopt(exportDir) : undefined
    const cacheSize = saveDir ? await dirSize(saveDir) : (restored.restored?.sizeBytes ?? 0)
    core.setOutput(Output.CacheSize, String(cacheSize))
    if (saveDir && inputs.maxCacheSizeBytes > 0 && cacheSize > inputs.maxCacheSizeBytes) {
      report.skipSave = `the new cache is ${mb(cacheSize)}, above max-cache-size (${mb(inputs.maxCacheSizeBytes)}).`
      core.warning(`Not saving the cache: ${report.skipSave}`)
    } else {
      report.saveDir = saveDir
    }
  } catch (error) {
    report.build = { seconds: seconds(), steps: { total: 0, cached: 0 }, retriedWithoutCache: false, succeeded: false }
    report.skipSave = 'the build failed.'
    if (exportDir) await removeDir(exportDir)
    throw error
  } finally {
    saveReport(report)
  }
}
