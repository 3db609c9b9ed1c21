import * as core from '@actions/core'
import { createStore } from '../cache/create.js'
import { hardLimit, TimeoutError } from '../cache/deadline.js'
import type { SaveResult } from '../cache/store.js'
import { deleteSuperseded, deletionSummary } from '../cache/superseded.js'
import { Input } from '../constants.js'
import { removeBuilder } from '../docker/builder.js'
import { removeDirs } from '../fsutil.js'
import { currentRunner } from '../github/runner.js'
import { branchScope } from '../key/key.js'
import { readBuilderCleanup, readCleanup, readReport, type Report, type SaveOutcome } from './report.js'
import { describeSave, mb } from './save-decision.js'
import { writeSummary } from './summary.js'

/** Saves the cache when the main step said it may, then removes every temporary directory. Never fails the job. */
export async function runPost(): Promise<void> {
  try {
    const report = readReport()
    if (!report) {
      core.info('The main step did not get as far as the build; nothing to save.')
      return
    }
    const outcome = await core.group('Save the cache', () => saveStep(report))
    if (outcome.result.saved && report.deleteSuperseded) {
      const kept = outcome.result.key
      await core.group('Delete superseded entries', () => deleteOlder(report, kept))
    }
    if (report.summary) await writeSummary(report, outcome)
  } catch (error) {
    core.warning(`The cache could not be saved: ${(error as Error).message}`)
  } finally {
    await removeDirs(readCleanup()).catch(() => undefined)
    const builder = readBuilderCleanup()
    if (builder) await removeBuilder(builder)
  }
}

async function saveStep(report: Report): Promise<SaveOutcome> {
  const decision = report.save
  if (!decision.save) {
    const reason = describeSave(decision)
    core.info(decision.skip.kind === 'exact-hit' ? reason : `Not saving the cache: ${reason}`)
    return { result: { saved: false, reason }, seconds: 0 }
  }
  core.info(`Saving the cache: ${describeSave(decision)}`)
  const store = createStore(report.store, currentRunner().temp)
  const started = Date.now()
  let result: SaveResult
  try {
    const cap = hardLimit(
      report.saveTimeoutSeconds,
      `The cache save did not finish within ${report.saveTimeoutSeconds} s (save-timeout)`
    )
    result = await store.save({ content: report.key }, cap)
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error
    result = { saved: false, reason: `${error.message}.` }
  }
  const seconds = (Date.now() - started) / 1000
  if (result.saved)
    core.info(`Cache saved with key: ${result.key} (${mb(result.sizeBytes)} in ${seconds.toFixed(1)} s)`)
  else core.warning(`Cache not saved with key ${report.key}: ${result.reason}`)
  return { result, seconds }
}

// A local cache root already keeps one entry per image and branch; the
// service keeps every key until it is evicted, so old ones are deleted here.
async function deleteOlder(report: Report, kept: string): Promise<void> {
  if (report.store.backend !== 'gha') return
  const result = await deleteSuperseded({
    token: core.getInput(Input.GithubToken),
    repository: process.env.GITHUB_REPOSITORY ?? '',
    ref: process.env.GITHUB_REF ?? '',
    scopePrefix: branchScope(report.key),
    keep: kept,
    apiUrl: process.env.GITHUB_API_URL
  })
  const line = deletionSummary(result)
  if (result.warn) core.warning(line)
  else core.info(line)
}
