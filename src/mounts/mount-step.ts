import * as core from '@actions/core'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { CacheLocation, Restored } from '../cache/store.js'
import type { BuildError } from '../docker/build.js'
import { failedStep } from '../docker/failed-step.js'
import type { Inputs } from '../inputs.js'
import { contextSources, type CacheMount } from '../key/dockerfile.js'
import { printable } from '../printable.js'
import type { MountReport } from './report.js'
import { restoreMounts } from './restore-mounts.js'
import { saveMounts } from './save-mounts.js'

// The main step's two calls: before the build, the mounts the restored
// entry kept go into the builder; after a build whose cache is saved, the
// builder's mounts go into the entry. Both on the builder the build uses.

export interface MountsOfBuild {
  mounts: CacheMount[]
  dockerfile: string
}

/** Where the mounts' helper files go: under RUNNER_TEMP, removed by the post step whatever happens. */
export function mountsDir(runnerTemp: string): string {
  return path.join(runnerTemp, 'buildx-ci-cache', 'mounts')
}

/** The cache mounts the build uses; none when cache-mounts is false or the Dockerfile can't be read for them. */
export async function mountsOfBuild(inputs: Inputs): Promise<MountsOfBuild> {
  const none = { mounts: [], dockerfile: '' }
  if (!inputs.cacheMounts) return none
  try {
    const dockerfile = await fs.promises.readFile(inputs.file, 'utf8')
    const mounts = contextSources(dockerfile, {
      buildArgs: inputs.buildArgs,
      target: inputs.target,
      platforms: inputs.platforms.slice(0, 1)
    }).cacheMounts
    if (mounts.length > 0)
      core.info(
        `Cache mounts the build uses: ${mounts.map(m => `${printable(m.id)} (${m.stage}, line ${m.line})`).join(', ')}.`
      )
    return { mounts, dockerfile }
  } catch (error) {
    core.warning(`The Dockerfile's cache mounts could not be read (${(error as Error).message}); they are not kept.`)
    return none
  }
}

export interface MountsContext {
  inputs: Inputs
  builder?: string
  temp: string
  env: Record<string, string>
}

export async function mountsBeforeBuild(
  of: MountsOfBuild,
  entry: Restored | undefined,
  fromEngine: boolean,
  context: MountsContext
): Promise<MountReport[]> {
  const blank = of.mounts.map(m => ({ id: m.id }))
  if (of.mounts.length === 0) return blank
  // The engine's builder already holds its mounts: what it kept is newer than any entry.
  if (fromEngine) {
    core.info("The engine's own cache serves the build: its cache mounts are used as they are.")
    return blank
  }
  if (entry === undefined || entry.from.length === 0 || context.inputs.noCache) return blank
  return await core.group('Restore the cache mounts', () =>
    restoreMounts({
      mounts: of.mounts,
      dockerfile: of.dockerfile,
      entry,
      repository: context.inputs.cacheRef,
      limitBytes: context.inputs.maxCacheMountSizeBytes,
      scratch: mountsDir(context.temp),
      setup: { inputs: context.inputs, builder: context.builder, from: entry.from, env: context.env }
    })
  )
}

export async function mountsAfterBuild(
  of: MountsOfBuild,
  reports: MountReport[],
  to: { location: CacheLocation; contentKey: string; from: CacheLocation[] },
  context: MountsContext
): Promise<MountReport[]> {
  if (of.mounts.length === 0) return reports
  return await core.group('Export the cache mounts', () =>
    saveMounts(
      {
        mounts: of.mounts,
        dockerfile: of.dockerfile,
        location: to.location,
        contentKey: to.contentKey,
        repository: context.inputs.cacheRef,
        limitBytes: context.inputs.maxCacheMountSizeBytes,
        scratch: mountsDir(context.temp),
        setup: { inputs: context.inputs, builder: context.builder, from: to.from, env: context.env }
      },
      reports
    )
  )
}

/**
 * After a failed build whose progress is kept: the mounts first used at or
 * before the failing line, whose helper stages the builder holds. A mount
 * first used further down was never reached, and its helper build would run
 * the failing step again.
 */
export async function mountsAfterFailure(
  of: MountsOfBuild,
  reports: MountReport[],
  failure: BuildError,
  to: { location: CacheLocation; contentKey: string; from: CacheLocation[] },
  context: MountsContext
): Promise<MountReport[]> {
  const step = failedStep(failure.failed?.output ?? '', context.inputs.platforms)
  if (step === undefined) return reports
  const reached = of.mounts.filter(m => m.line <= step.line)
  const kept = await mountsAfterBuild({ ...of, mounts: reached }, reports, to, context)
  return reports.map(r => kept.find(k => k.id === r.id) ?? r)
}
