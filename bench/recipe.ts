// The documented recipe the action is measured against, step by step as a
// workflow would run it on every event, pull requests included:
//   restore: zstd -d | tar -x of the saved tarball into old/
//   build:   docker buildx build --cache-from type=local,src=old
//                                --cache-to type=local,dest=new,mode=max
//   swap:    rm -rf old; mv new old   (buildx never prunes a local cache)
//   save:    tar | zstd of old/
// Its transport is a file on the same disk, the cheapest one there is.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { packDir, unpackInto } from './archive.js'
import { plainBuild } from './buildx-build.js'
import { freshRunner, retryingEngineFlakes } from './engine.js'
import type { Phases } from './jobs.js'
import type { Lab } from './lab.js'
import type { Fixture } from './settings.js'
import { stopwatch, timed } from './timing.js'

export interface RecipeRun extends Phases {
  swap: number
  archiveBytes: number
  cached: number
  steps: number
}

export interface RecipeJob {
  fixture: Fixture
  workspace: string
  /** The tarball a previous run saved. */
  restoreFrom: string
  saveTo: string
}

export async function recipeJob(lab: Lab, job: RecipeJob): Promise<RecipeRun> {
  return retryingEngineFlakes(() => recipeJobOnce(lab, job))
}

async function recipeJobOnce(lab: Lab, job: RecipeJob): Promise<RecipeRun> {
  freshRunner(lab.engine)
  const dir = lab.tempDir('recipe-')
  const oldDir = path.join(dir, 'old')
  const newDir = path.join(dir, 'new')
  const total = stopwatch()

  const restore = await timed(() => unpackInto(job.restoreFrom, oldDir))
  const build = await plainBuild(lab, {
    fixture: job.fixture,
    workspace: job.workspace,
    cacheFrom: oldDir,
    cacheTo: newDir
  })
  const swap = await timed(async () => {
    await fs.promises.rm(oldDir, { recursive: true, force: true })
    await fs.promises.rename(newDir, oldDir)
  })
  const save = await timed(() => packDir(oldDir, job.saveTo))
  const seconds = total()
  await fs.promises.rm(dir, { recursive: true, force: true })

  return {
    total: seconds,
    restore: restore.seconds,
    build: build.seconds - build.exportSeconds,
    export: build.exportSeconds,
    save: save.seconds,
    swap: swap.seconds,
    // The swap is the recipe's bookkeeping, as the key and start-up are ours.
    other: seconds - restore.seconds - build.seconds - save.seconds,
    archiveBytes: save.value,
    cached: build.cached,
    steps: build.steps
  }
}
