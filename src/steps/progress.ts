import * as core from '@actions/core'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { CacheStore, Restored } from '../cache/store.js'
import { build, type BuildError } from '../docker/build.js'
import { cutBefore, describeRefusal } from '../docker/dockerfile-cut.js'
import { failedStep, progressOf } from '../docker/failed-step.js'
import type { Inputs } from '../inputs.js'
import { partialKey, type KeyPlan } from '../key/key.js'
import { megabytes } from '../megabytes.js'
import { printable } from '../printable.js'
import type { ExportPlan } from './prepare-export.js'
import type { ProgressReport } from './progress-words.js'
import { saveBecause, skipBecause, type SaveDecision } from './save-decision.js'

// A failed solve exports no cache, but the builder still holds every step that
// finished. When a run that would have saved fails, the Dockerfile is cut just
// before the failing instruction and built again, exporting only its cache:
// each step kept has the key the failed build gave it, so the builder serves
// them all (CACHED) and the cut build costs the export alone. What it exports
// is saved as a partial entry (key.ts, partialKey).

export interface ProgressContext {
  inputs: Inputs
  plan: KeyPlan
  store: CacheStore
  /** What the failed build was set up to export, and with which builder. */
  exporting: ExportPlan
  entry: Restored | undefined
  workDir: string
  /** Where the cut Dockerfile is written; removed in the post step whatever happens. */
  progressDir: string
  env: Record<string, string>
}

export interface KeptProgress {
  decision: SaveDecision
  report?: ProgressReport
}

/** Where the cut Dockerfile goes: a fixed path under RUNNER_TEMP, so that the post step removes it. */
export function progressDir(runnerTemp: string): string {
  return path.join(runnerTemp, 'buildx-ci-cache', 'progress')
}

/**
 * What is saved of a failed build: the steps it finished, as a partial entry,
 * or nothing, and why. Never throws: the step fails with the build's own
 * error whatever happens here.
 */
export async function keepProgress(failure: BuildError, context: ProgressContext): Promise<KeptProgress> {
  const failed = skipBecause({ kind: 'build-failed' })
  // A run that would not have saved a whole build saves none of a failed one.
  if (!context.exporting.decision.save || context.exporting.location === undefined) return { decision: failed }
  const nothing = (why: string): KeptProgress => {
    core.info(`Nothing of the failed build is saved: ${why}`)
    return { decision: failed }
  }
  if (!context.inputs.saveOnFailure) return nothing('save-on-failure is false.')
  try {
    return await cutAndExport(failure, context, nothing)
  } catch (error) {
    core.warning(`The steps the failed build finished could not be kept: ${(error as Error).message}`)
    return { decision: failed }
  }
}

async function cutAndExport(
  failure: BuildError,
  context: ProgressContext,
  nothing: (why: string) => KeptProgress
): Promise<KeptProgress> {
  const { inputs } = context
  const output = failure.failed?.output ?? ''
  const step = failedStep(output, inputs.platforms)
  if (step === undefined)
    return nothing('no step of the Dockerfile failed (a syntax error or a missing file, say), so there is no progress.')
  const progress = progressOf(output)
  if (progress.finished === 0) return nothing(`the first step, \`${printable(step.instruction)}\`, failed.`)
  if (progress.built === 0)
    return nothing('every step that finished came from the restored cache, which holds them already.')
  // Every step before the failing one on its platform had finished: it
  // needed them. On a build of several platforms that buildx did not say
  // which one failed, and steps cut short elsewhere would run in the cut.
  const platforms = step.platform ? [step.platform] : inputs.platforms
  if (platforms.length > 1 && progress.unfinished > 0)
    return nothing(
      `buildx does not say which of the platforms ${inputs.platforms.join(', ')} failed, and ${progress.unfinished} steps were cut short: the cut would build them.`
    )
  const cut = cutBefore(await fs.promises.readFile(inputs.file, 'utf8'), step.line, step.instruction)
  if (!cut.ok) return nothing(`${describeRefusal(cut.why)}.`)

  const file = await writeCut(cut.text, inputs.file, context.progressDir)
  const key = partialKey(context.plan.content)
  const location = await context.store.exportTo(key)
  core.info(
    `The build failed at \`${printable(step.instruction)}\` (line ${step.line}) after ${progress.finished} steps finished; exporting them with the Dockerfile cut before that line.`
  )
  const started = Date.now()
  const built = await core.group('Export the steps the failed build finished', () =>
    build(
      // The same build but for the file, its last stage (the one that failed)
      // and the platform that failed; nothing is built afresh.
      {
        ...inputs,
        file,
        target: '',
        platforms,
        noCache: false
      },
      { from: failure.failed?.withoutCache ? [] : (context.entry?.from ?? []), to: location },
      { builder: context.exporting.builder, output: 'cache-only' },
      context.workDir,
      context.env
    )
  )
  const cutSeconds = (Date.now() - started) / 1000
  const { total, cached } = built.steps
  if (total === 0) return nothing('the failing stage has no step before the failing one.')
  const exported = await context.store.exported(built.cacheExportError)
  if (exported.problem !== undefined) return nothing(`the cut build could not export its cache (${exported.problem}).`)
  const limit = inputs.maxCacheSizeBytes
  if (limit > 0 && exported.sizeBytes > limit)
    return nothing(`its cache is ${megabytes(exported.sizeBytes)}, above max-cache-size (${megabytes(limit)}).`)
  if (cached < total)
    core.warning(
      `${total - cached} of the ${total} steps before \`${printable(step.instruction)}\` were not in the builder's cache and ran again in the cut build.`
    )
  core.info(
    `Kept ${total} steps (${megabytes(exported.sizeBytes)}) in ${cutSeconds.toFixed(1)} s; the post step saves them as the partial entry ${key}.`
  )
  return {
    decision: saveBecause({ kind: 'progress', key, steps: total, failedStep: step.instruction }),
    report: { steps: total, rerun: total - cached, failedStep: step.instruction, cutSeconds }
  }
}

// Under the Dockerfile's own name, and with its own ignore file when it has
// one (BuildKit reads `<Dockerfile>.dockerignore` beside it before the
// context's), so the cut build sends the same context.
async function writeCut(text: string, original: string, dir: string): Promise<string> {
  await fs.promises.mkdir(dir, { recursive: true })
  const file = path.join(dir, path.basename(original))
  await fs.promises.writeFile(file, text)
  const ignore = `${original}.dockerignore`
  if (fs.existsSync(ignore)) await fs.promises.copyFile(ignore, `${file}.dockerignore`)
  return file
}
