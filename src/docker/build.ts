import * as core from '@actions/core'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { removeDir } from '../fsutil.js'
import type { Inputs } from '../inputs.js'
import { resolvedBases, type ResolvedBase } from './base-images.js'
import { buildxArgs, type BuildCache, type BuildSetup } from './buildx-args.js'
import { cacheExportError, stepCounts, type StepCounts } from './build-output.js'
import { secretEnv } from './build-secrets.js'
import { docker } from './docker-cli.js'
import { errorLine } from './error-line.js'
import { failedOnCacheImport } from './import-failures.js'

/** A build that failed for its own reasons: the step fails with this message. */
export class BuildError extends Error {
  constructor(
    message: string,
    /** What the failed build printed, and whether it ran without the restored cache: how far it got. */
    readonly failed?: { output: string; withoutCache: boolean }
  ) {
    super(message)
    this.name = 'BuildError'
  }
}

/** What a build came to, after its retry without a damaged cache. */
export interface BuildOutcome {
  steps: StepCounts
  /** The restored cache broke the build, which then ran again without it. */
  retriedWithoutCache: boolean
  /** Why the cache export failed in a build that succeeded (a registry push that was refused, say). */
  cacheExportError?: string
  imageId: string
  digest: string
  /** The images the build resolved from registries (its provenance's materials). */
  bases: ResolvedBase[]
}

/** Where a build writes its image ID and metadata: a fixed path, so the post step removes it even after a cancelled build. */
export function buildDir(runnerTemp: string): string {
  return path.join(runnerTemp, 'buildx-ci-cache', 'build')
}

/**
 * Builds once; if a damaged cache (restored, or left in the engine by an
 * earlier import) is what broke the build, builds once more without any, so a
 * damaged cache costs time but never the job.
 */
export async function build(
  inputs: Inputs,
  cache: BuildCache,
  how: Pick<BuildSetup, 'builder' | 'output' | 'origin'>,
  dir: string,
  env: Record<string, string>
): Promise<BuildOutcome> {
  await fs.promises.mkdir(dir, { recursive: true })
  const run: BuildSetup = { iidFile: path.join(dir, 'iid'), metadataFile: path.join(dir, 'metadata.json'), ...how }
  // The provenance's materials in the metadata file say which digest each
  // base image resolved to (min is buildx's default; max has them too).
  const provenance = env.BUILDX_METADATA_PROVENANCE === 'max' ? 'max' : 'min'
  const buildEnv = { ...env, ...secretEnv(inputs.secrets), BUILDX_METADATA_PROVENANCE: provenance }
  try {
    let result = await runBuildx(buildxArgs(inputs, cache, run), buildEnv)
    let retriedWithoutCache = false
    if (result.exitCode !== 0 && failedOnCacheImport(result.output)) {
      core.warning(
        cache.from.length > 0
          ? `The build failed while importing the restored cache (${result.error}); building once more without it.`
          : `The build failed on records a damaged cache left in the engine (${result.error}); building once more without the engine's cache.`
      )
      if (cache.to?.type === 'local') await removeDir(cache.to.dir)
      result = await runBuildx(
        buildxArgs(inputs, { from: [], to: cache.to, noCache: true, bases: cache.bases }, run),
        buildEnv
      )
      retriedWithoutCache = true
    }
    if (result.exitCode !== 0) {
      throw new BuildError(`The image build failed (docker buildx exit code ${result.exitCode}): ${result.error}`, {
        output: result.output,
        withoutCache: retriedWithoutCache || cache.noCache === true
      })
    }
    const exportError = cache.to ? cacheExportError(result.output) : undefined
    return {
      steps: result.steps,
      retriedWithoutCache,
      cacheExportError: exportError,
      ...(await imageFacts(run.iidFile, run.metadataFile))
    }
  } finally {
    await removeDir(dir)
  }
}

async function imageFacts(
  iidFile: string,
  metadataFile: string
): Promise<{ imageId: string; digest: string; bases: ResolvedBase[] }> {
  const imageId = (await fs.promises.readFile(iidFile, 'utf8').catch(() => '')).trim()
  let digest = ''
  let bases: ResolvedBase[] = []
  try {
    const metadata = JSON.parse(await fs.promises.readFile(metadataFile, 'utf8')) as Record<string, unknown>
    if (typeof metadata['containerimage.digest'] === 'string') digest = metadata['containerimage.digest']
    bases = resolvedBases(metadata)
  } catch {
    // No metadata file (nothing exported): the digest output stays empty.
  }
  return { imageId, digest, bases }
}

/** One `docker buildx build` process as it ended. */
interface BuildxExit {
  exitCode: number
  /** The most telling error line of a failed build, for the failure message. */
  error: string
  steps: StepCounts
  /** Everything buildx printed, for the caller's diagnosis. */
  output: string
}

/** Runs docker with the given arguments and environment, its output streaming into the log. */
async function runBuildx(args: string[], env: Record<string, string>): Promise<BuildxExit> {
  const { exitCode, output } = await docker(args, { log: true, env })
  return { exitCode, error: errorLine(output), steps: stepCounts(output), output }
}
