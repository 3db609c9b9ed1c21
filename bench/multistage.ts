// The multi-stage variant: the same content, built in a builder stage whose
// output the final stage copies. Its cache (mode=max) holds both stages while
// the image holds only the second, so a restore moves more than the image
// needs; the warm hit and the pull request show what that costs, beside the
// bare import and the recipe as in the main runs.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { packDir } from './archive.js'
import type { PlainBuildResult } from './buildx-build.js'
import type { PlainTransfer } from './cycle.js'
import { dirBytes, unpackEntry } from './entries.js'
import { actionJob, expectSource, type ActionRun } from './jobs.js'
import { setRelease, type Lab } from './lab.js'
import { bareImport, imageFilesExtraction } from './limits.js'
import type { Progress } from './progress.js'
import { recipeJob, type RecipeRun } from './recipe.js'
import { probeTransport, type TransportProbe } from './transport.js'
import { inTurn } from './turns.js'

export interface MultiStageRun {
  cold: ActionRun
  exact: ActionRun[]
  bareImport: PlainBuildResult[]
  prOurs: ActionRun[]
  prRecipe: RecipeRun[]
  transport: TransportProbe
  imageFiles: PlainTransfer
  cacheBytes: number
  entryBytes: number
}

export async function multiStage(lab: Lab, runs: number, say: Progress): Promise<MultiStageRun> {
  const fixture = lab.settings.multiStage
  const workspace = await lab.workspace(fixture)
  setRelease(workspace, fixture, 1)
  const master = { fixture, workspace, trigger: 'push-master', keyPrefix: 'multistage' } as const

  const cold = await actionJob(lab, master)
  expectSource(cold, 'none')
  say(`cold build ${cold.total.toFixed(1)} s`)
  const seed = lab.tempDir('multistage-seed-')
  const seedDir = await unpackEntry(lab, cold.key, seed)
  const tarball = path.join(seed, 'recipe-cache.tar.zst')
  await packDir(seedDir, tarball)
  const transport = await probeTransport(lab, cold.key)

  const result: MultiStageRun = {
    cold,
    exact: [],
    bareImport: [],
    prOurs: [],
    prRecipe: [],
    transport,
    imageFiles: await imageFilesExtraction(lab, fixture.image),
    cacheBytes: await dirBytes(seedDir),
    entryBytes: lab.entryBytes(cold.key)
  }
  for (let i = 0; i < runs; i++) {
    const [exact, bare] = await inTurn<[ActionRun, PlainBuildResult]>(i, [
      () => actionJob(lab, master),
      () => bareImport(lab, fixture, workspace, seedDir)
    ])
    expectSource(exact, 'exact')
    const [prOurs, prRecipe] = await inTurn<[ActionRun, RecipeRun]>(i, [
      () => actionJob(lab, { ...master, trigger: 'pull-request' }),
      () =>
        recipeJob(lab, { fixture, workspace, restoreFrom: tarball, saveTo: path.join(seed, 'recipe-saved.tar.zst') })
    ])
    expectSource(prOurs, 'base-branch')
    result.exact.push(exact)
    result.bareImport.push(bare)
    result.prOurs.push(prOurs)
    result.prRecipe.push(prRecipe)
    say(
      `run ${i + 1}/${runs}: exact hit ${exact.total.toFixed(1)} s, bare import ${bare.seconds.toFixed(1)} s; pull request ours ${prOurs.total.toFixed(1)} s, recipe ${prRecipe.total.toFixed(1)} s`
    )
  }
  await fs.promises.rm(seed, { recursive: true, force: true })
  return result
}
