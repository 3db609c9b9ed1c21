import * as core from '@actions/core'
import { createStore } from '../cache/create.js'
import type { SaveResult } from '../cache/store.js'
import { deleteSuperseded, deletionSummary } from '../cache/superseded.js'
import { Input } from '../constants.js'
import { removeBuilder } from '../docker/builder.js'
import { removeDirs } from '../fsutil.js'
import { currentRunner, type Runner } from '../github/runner.js'
import { branchScope, isPartialKey } from '../key/key.js'
import { megabytes } from '../megabytes.js'
import { hardLimit, TimeoutError } from '../time-limit.js'
import { readBuilderCleanup, readCleanup, readStepState, type StepState, type SaveOutcome } from './step-state.js'
import { progressSavedLine } from './progress-words.js'
import { describeSave, type SaveDecision } from './save-decision.js'
import { writeSummary } from './summary.js'

/** Saves the cache when the main step said it may, then removes every temporary directory. Never fails the job. */
export async function runPost(): Promise<void> {
  // RUNNER_TEMP itself is never removed: later steps of the job still use it.
  let runnerTemp: string | undefined
  try {
    const runner = currentRunner()
    runnerTemp = runner.temp
    const state = readStepState()
    if (!state) {
      core.info('The main step did not get as far as the build; nothing to save.')
      return
    }
    const outcome = await core.group('Save the cache', () => saveStep(state, runner))
    if (outcome.result.saved && state.deleteSuperseded) {
      const { key, needs } = outcome.result
      await core.group('Delete superseded entries', () => deleteOlder(state, key, needs ?? [], runner))
    }
    if (state.summary) await writeSummary(state, outcome, runner.stepSummary)
  } catch (error) {
    core.warning(`The cache could not be saved: ${(error as Error).message}`)
  } finally {
    await removeDirs(readCleanup(), runnerTemp).catch(() => undefined)
    const builder = readBuilderCleanup()
    if (builder) await removeBuilder(builder)
  }
}

async function saveStep(state: StepState, runner: Runner): Promise<SaveOutcome> {
  const decision = state.save
  if (!decision.save) {
    const reason = describeSave(decision)
    core.info(decision.skip.kind === 'exact-hit' ? reason : `Not saving the cache: ${reason}`)
    return { result: { saved: false, reason }, seconds: 0 }
  }
  core.info(`Saving the cache: ${describeSave(decision)}`)
  const store = createStore(state.store, runner)
  const started = Date.now()
  let result: SaveResult
  try {
    const cap = hardLimit(
      state.saveTimeoutSeconds,
      `The cache save did not finish within ${state.saveTimeoutSeconds} s (save-timeout)`
    )
    result = await store.save({ content: savedContent(decision) ?? state.key }, cap)
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error
    result = { saved: false, reason: `${error.message}.` }
  }
  const seconds = (Date.now() - started) / 1000
  if (result.saved) {
    const moved = result.movedBytes === undefined ? '' : `; ${megabytes(result.movedBytes)} uploaded`
    core.info(`Cache saved with key: ${result.key} (${megabytes(result.sizeBytes)} in ${seconds.toFixed(1)} s${moved})`)
    if (state.progress) core.info(`The build failed: ${progressSavedLine(state.progress, result.sizeBytes)}.`)
  } else core.warning(`Cache not saved with key ${state.key}: ${result.reason}`)
  return { result, seconds }
}

// A local cache root already keeps one entry per image and branch; the
// service keeps every key until it is evicted, so old ones are deleted here.
async function deleteOlder(state: StepState, kept: string, needed: string[], runner: Runner): Promise<void> {
  if (state.store.backend !== 'gha') return
  const result = await deleteSuperseded({
    token: core.getInput(Input.GithubToken),
    repository: runner.repository ?? '',
    ref: runner.ref ?? '',
    scopePrefix: branchScope(state.key),
    keep: kept,
    needed,
    onlyPartial: isPartialKey(kept),
    apiUrl: runner.apiUrl
  })
  const line = deletionSummary(result)
  if (result.warn) core.warning(line)
  else core.info(line)
}

/** The content key a failed build's progress is saved under; unset: the run's own. */
function savedContent(decision: SaveDecision): string | undefined {
  return decision.save && decision.why.kind === 'progress' ? decision.why.key : undefined
}
