import * as core from '@actions/core'
import * as github from '@actions/github'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { builderFacts, chooseBuilder, ensureBuilder, type BuilderFacts } from './builder.js'
import { buildxArgs, failedOnCacheImport, runBuildx, secretEnv, type BuildCache, type BuildResult } from './buildx.js'
import { TimeoutError, within, type CacheStore, type Restored } from './cache.js'
import { Output } from './constants.js'
import { runContext, writeDecision } from './context.js'
import { dirSize, removeDir } from './fsutil.js'
import { imageHash, type ImageHash } from './hash.js'
import { InputError, parseInputs, type Inputs } from './inputs.js'
import { cacheSourceOf, keyPlan, type KeyPlan } from './key.js'
import { saveCleanup, saveReport, type Report } from './state.js'
import { createStore, runnerTemp } from './store.js'
import { mb } from './summary.js'

/** A build that failed for its own reasons: the step fails with this message. */
export class BuildError extends Error {}

export async function runMain(): Promise<void> {
  try {
    await mainStep()
  } catch (error) {
    if (error instanceof InputError || error instanceof BuildError) core.setFailed(error.message)
    else core.setFailed(`Unexpected error: ${(error as Error).stack ?? error}`)
  }
}

async function mainStep(): Promise<void> {
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd()
  const inputs = parseInputs(name => core.getInput(name), workspace)
  for (const { value } of inputs.secrets) core.setSecret(value)
  const builder = await builderFacts()
  if (builder.unavailable) {
    throw new BuildError(
      `docker buildx is not available (${builder.unavailable}). Install Docker with the buildx plugin, or add docker/setup-buildx-action before this step.`
    )
  }
  const ctx = runContext(
    {
      eventName: github.context.eventName,
      ref: github.context.ref,
      payload: github.context.payload as Record<string, unknown>,
      headRef: process.env.GITHUB_HEAD_REF,
      baseRef: process.env.GITHUB_BASE_REF
    },
    inputs.defaultBranch
  )
  const decision = writeDecision(ctx)

  const hashed = await core.group('Cache key', async () => {
    const result = await imageHash(inputs, workspace)
    logHashInputs(result)
    return result
  })
  const plan = keyPlan({ prefix: inputs.keyPrefix, image: inputs.image, ...ctx, hash: hashed.hash })
  core.info(`Primary key: ${plan.primary}`)
  core.setOutput(Output.Key, plan.primary)

  const store = createStore(inputs.cacheBackend, inputs.image, inputs.cacheRoot)
  saveCleanup(store.temporaryPaths())
  const restore = await core.group('Restore the cache', () => restoreStep(store, plan, inputs.restoreTimeoutSeconds))
  const source = cacheSourceOf(plan, restore.restored?.matchedKey)
  core.setOutput(Output.MatchedKey, restore.restored?.matchedKey ?? '')
  core.setOutput(Output.CacheHit, String(source === 'exact'))
  core.setOutput(Output.CacheSource, source)
  core.setOutput(Output.RestoreTime, restore.seconds.toFixed(1))

  let skipSave = !decision.allowed
    ? decision.reason
    : source === 'exact'
      ? `Cache hit occurred on the primary key ${plan.primary}, not saving cache.`
      : restore.timedOut
        ? `the cache service did not answer the restore within ${inputs.restoreTimeoutSeconds} s, so the save would hang too.`
        : undefined
  const builderName = await pickBuilder(builder, skipSave === undefined, inputs.createBuilder)
  if (builderName === null) skipSave = 'the builder cannot export a local cache (see the warning above).'
  // Exporting costs time; do it only when something will keep the result.
  const exportDir = skipSave === undefined ? await store.exportDir() : undefined
  saveCleanup(store.temporaryPaths())

  const report: Report = {
    image: inputs.image,
    key: plan.primary,
    matchedKey: restore.restored?.matchedKey ?? '',
    source,
    backend: inputs.cacheBackend,
    cacheRoot: inputs.cacheRoot,
    restore: restore.restored ? { sizeBytes: restore.restored.sizeBytes, seconds: restore.seconds } : undefined,
    skipSave,
    saveTimeoutSeconds: inputs.saveTimeoutSeconds,
    summary: inputs.summary
  }
  const started = Date.now()
  try {
    const build = await core.group(`Build ${inputs.image}`, () =>
      buildStep(inputs, { from: restore.restored?.dir, to: exportDir }, builderName)
    )
    report.build = { seconds: (Date.now() - started) / 1000, steps: build.result.steps, retriedWithoutCache: build.retried, succeeded: true }
    core.setOutput(Output.ImageId, build.image.imageId)
    core.setOutput(Output.Digest, build.image.digest)
    core.setOutput(Output.BuildTime, report.build.seconds.toFixed(1))
    const saveDir = exportDir ? await store.adopt(exportDir) : undefined
    const cacheSize = saveDir ? await dirSize(saveDir) : (restore.restored?.sizeBytes ?? 0)
    core.setOutput(Output.CacheSize, String(cacheSize))
    if (saveDir && inputs.maxCacheSizeBytes > 0 && cacheSize > inputs.maxCacheSizeBytes) {
      report.skipSave = `the new cache is ${mb(cacheSize)}, above max-cache-size (${mb(inputs.maxCacheSizeBytes)}).`
      core.warning(`Not saving the cache: ${report.skipSave}`)
    } else {
      report.saveDir = saveDir
    }
    core.info(`${build.result.steps.cached} of ${build.result.steps.total} steps were cached.`)
  } catch (error) {
    report.build = { seconds: (Date.now() - started) / 1000, steps: { total: 0, cached: 0 }, retriedWithoutCache: false, succeeded: false }
    report.skipSave = 'the build failed.'
    if (exportDir) await removeDir(exportDir)
    throw error
  } finally {
    saveReport(report)
  }
}

function logHashInputs(hashed: ImageHash): void {
  const shown = 200
  core.info(`Hashing ${hashed.origin}`)
  for (const file of hashed.files.slice(0, shown)) core.info(`  ${file.digest.slice(0, 13)}  ${file.path}`)
  if (hashed.files.length > shown) core.info(`  ... and ${hashed.files.length - shown} more files`)
  for (const setting of hashed.settings) core.info(`  ${setting}`)
  core.info(`Hash: ${hashed.hash}`)
}

interface RestoreOutcome {
  restored?: Restored
  seconds: number
  timedOut: boolean
}

async function restoreStep(store: CacheStore, plan: KeyPlan, timeoutSeconds: number): Promise<RestoreOutcome> {
  core.info(`Restore keys: ${plan.restoreKeys.map(r => `${r.key} (${r.source})`).join(', ')}`)
  const started = Date.now()
  const elapsed = (): number => (Date.now() - started) / 1000
  try {
    const restored = await within(timeoutSeconds, 'The cache restore', store.restore(plan.primary, plan.restoreKeys.map(r => r.key)))
    if (restored) core.info(`Cache restored from key: ${restored.matchedKey}`)
    else core.info(`Cache not found for input keys: ${[plan.primary, ...plan.restoreKeys.map(r => r.key)].join(', ')}`)
    return { restored, seconds: elapsed(), timedOut: false }
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error
    core.warning(`${error.message} (restore-timeout); building without a cache.`)
    return { seconds: elapsed(), timedOut: true }
  }
}

interface ImageFacts {
  imageId: string
  digest: string
}

/** The builder to name (undefined: the current one), or null when no builder can export. */
async function pickBuilder(facts: BuilderFacts, exporting: boolean, create: boolean): Promise<string | undefined | null> {
  const choice = chooseBuilder(facts, exporting, create)
  if (choice.kind === 'current') return undefined
  if (choice.kind === 'no-export') {
    core.warning(choice.warning)
    return null
  }
  try {
    await core.group(`Create the docker-container builder ${choice.name}`, () => ensureBuilder(choice.name))
    return choice.name
  } catch (error) {
    core.warning(`The current builder cannot export a local cache and ${(error as Error).message}; building without saving a cache.`)
    return null
  }
}

async function buildStep(
  inputs: Inputs,
  cache: BuildCache,
  builder: string | undefined | null
): Promise<{ result: BuildResult; retried: boolean; image: ImageFacts }> {
  const dir = await fs.promises.mkdtemp(path.join(runnerTemp(), 'buildx-ci-cache-build-'))
  const files = { iidFile: path.join(dir, 'iid'), metadataFile: path.join(dir, 'metadata.json'), builder: builder ?? undefined }
  const env = secretEnv(inputs.secrets)
  try {
    let result = await runBuildx(buildxArgs(inputs, cache, files), env)
    let retried = false
    if (result.exitCode !== 0 && cache.from && failedOnCacheImport(result.output)) {
      core.warning(`The build failed while importing the restored cache (${result.error}); building once more without it.`)
      if (cache.to) await removeDir(cache.to)
      result = await runBuildx(buildxArgs(inputs, { to: cache.to }, files), env)
      retried = true
    }
    if (result.exitCode !== 0) {
      throw new BuildError(`The image build failed (docker buildx exit code ${result.exitCode}): ${result.error}`)
    }
    return { result, retried, image: await imageFacts(files.iidFile, files.metadataFile) }
  } finally {
    await removeDir(dir)
  }
}

async function imageFacts(iidFile: string, metadataFile: string): Promise<ImageFacts> {
  const imageId = (await fs.promises.readFile(iidFile, 'utf8').catch(() => '')).trim()
  let digest = ''
  try {
    const metadata = JSON.parse(await fs.promises.readFile(metadataFile, 'utf8')) as Record<string, unknown>
    if (typeof metadata['containerimage.digest'] === 'string') digest = metadata['containerimage.digest']
  } catch {
    // No metadata file (nothing exported): the digest output stays empty.
  }
  return { imageId, digest }
}
