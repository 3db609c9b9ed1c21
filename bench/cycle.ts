// One run of the main scenario, every comparison inside it with its sides
// back to back, so that the load others put on the machine hits both alike:
// a cold build on master; a fresh runner's exact hit beside its limits; a pull
// request; a commit that changes a COPY source, built on master. The pull
// request and the commit each run ours, the recipe, the docker save / load
// approach (in the first runs only) and ours with the local backend, all from
// the same cache the cold build saved.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { packDir, unpackInto } from './archive.js'
import type { PlainBuildResult } from './buildx-build.js'
import { dirBytes, unpackEntry } from './entries.js'
import type { Chain } from './growth.js'
import { actionJob, expectSource, type ActionRun } from './jobs.js'
import { setRelease, type Lab } from './lab.js'
import { bareImport, bareNodeStart, imageFilesExtraction } from './limits.js'
import { mb, type Progress } from './progress.js'
import { recipeJob, type RecipeRun } from './recipe.js'
import { imageArchive, saveImage, saveLoadJob, type SaveLoadRun } from './save-load.js'
import { timed } from './timing.js'
import { inTurn } from './turns.js'
import { probeTransport, type TransportProbe } from './transport.js'

/** A plain tar + zstd of a directory, or its extraction. */
export interface PlainTransfer {
  seconds: number
  bytes: number
}

export interface CycleRun {
  cold: ActionRun
  exact: ActionRun
  /** BuildKit alone importing the directory the cold build saved, on a fresh runner. */
  bareImport: PlainBuildResult
  /** A plain `tar -x` of the image's files. */
  imageFiles: PlainTransfer
  /** `node -e 0`, median of a few. */
  nodeStart: number
  prOurs: ActionRun
  prRecipe: RecipeRun
  /** Also the "warm fallback hit after a changed COPY source". */
  masterOurs: ActionRun
  masterRecipe: RecipeRun
  /** The same two jobs with `cache-backend: local`, the recipe's own kind of transport. */
  prLocal: ActionRun
  masterLocal: ActionRun
  /** The docker save / load approach, in the runs that measure it: its save after the cold build, then its two jobs. */
  saveLoad?: { seed: PlainTransfer; pr: SaveLoadRun; master: SaveLoadRun }
  /** Beside the cold run's save: packing the same directory. */
  plainSave: PlainTransfer
  /** Beside the exact hit's restore: extracting the same directory. */
  plainRestore: PlainTransfer
  /** The cold build's entry moved by curl alone. */
  transport: TransportProbe
  /** The archive the cold build saved. */
  coldEntryBytes: number
}

export async function cycleRun(lab: Lab, index: number, say: Progress): Promise<{ run: CycleRun; chain: Chain }> {
  const { fixture } = lab.settings
  const keyPrefix = `bench-${index}`
  const workspace = await lab.workspace(fixture)
  setRelease(workspace, fixture, 1)
  const master = { fixture, workspace, trigger: 'push-master', keyPrefix } as const
  const turn = <T extends unknown[]>(jobs: { [K in keyof T]: () => Promise<T[K]> }): Promise<T> => inTurn(index - 1, jobs)

  const cold = await actionJob(lab, master)
  expectSource(cold, 'none')
  say(`cold build ${cold.total.toFixed(1)} s (${mb(cold.cacheBytes)} MB cache)`)
  // The save / load approach's own cold run builds the same image: its save
  // is all that differs, taken while the cold build's image is loaded.
  const archive = index <= lab.settings.saveLoadRuns ? imageArchive(lab, keyPrefix) : undefined
  const saveLoadSeed = archive && (await saveImage(lab, archive, fixture.image, 1))

  // The directory our entry holds, as a plain tarball: the plain-save baseline
  // and the recipe's starting point.
  const seed = lab.tempDir('seed-')
  const seedDir = await unpackEntry(lab, cold.key, seed)
  const tarball = path.join(seed, 'recipe-cache.tar.zst')
  const packed = await timed(() => packDir(seedDir, tarball))
  const plainSave = { seconds: packed.seconds, bytes: await dirBytes(seedDir) }

  const [exact, bare] = await turn<[ActionRun, PlainBuildResult]>([
    () => actionJob(lab, master),
    () => bareImport(lab, fixture, workspace, seedDir)
  ])
  expectSource(exact, 'exact')
  const imageFiles = await imageFilesExtraction(lab, fixture.image)
  const extractTo = lab.tempDir('plain-restore-')
  const extracted = await timed(() => unpackInto(tarball, extractTo))
  const plainRestore = { seconds: extracted.seconds, bytes: await dirBytes(extractTo) }
  await fs.promises.rm(extractTo, { recursive: true, force: true })
  const transport = await probeTransport(lab, cold.key)
  const nodeStart = await bareNodeStart()
  say(
    `exact hit ${exact.total.toFixed(1)} s (restore ${exact.restore} s, build ${exact.build.toFixed(1)} s); bare import ` +
      `${bare.seconds.toFixed(1)} s, image files ${imageFiles.seconds.toFixed(1)} s, curl download ${transport.downloadSeconds.toFixed(1)} s, node ${nodeStart.toFixed(2)} s`
  )

  // The local backend's root, holding the same first entry.
  const cacheRoot = lab.tempDir('cache-root-')
  await fs.promises.cp(seedDir, path.join(cacheRoot, cold.key), { recursive: true })
  const local = { ...master, inputs: { 'cache-backend': 'local', 'cache-root': cacheRoot } }
  const recipeSave = path.join(seed, 'recipe-saved.tar.zst')
  const recipe = (): Promise<RecipeRun> => recipeJob(lab, { fixture, workspace, restoreFrom: tarball, saveTo: recipeSave })
  const saveLoad = (trigger: 'push-master' | 'pull-request', release: number) => (): Promise<SaveLoadRun | undefined> =>
    archive ? saveLoadJob(lab, { fixture, workspace, trigger, archive, release }) : Promise.resolve(undefined)

  const [prOurs, prRecipe, prSaveLoad] = await turn<[ActionRun, RecipeRun, SaveLoadRun | undefined]>([
    () => actionJob(lab, { ...master, trigger: 'pull-request' }),
    recipe,
    saveLoad('pull-request', 1)
  ])
  const prLocal = await actionJob(lab, { ...local, trigger: 'pull-request' })
  expectSource(prOurs, 'base-branch')
  expectSource(prLocal, 'base-branch')
  say(`pull request: ours ${prOurs.total.toFixed(1)} s, recipe ${prRecipe.total.toFixed(1)} s, local backend ${prLocal.total.toFixed(1)} s${others(prSaveLoad)}`)

  setRelease(workspace, fixture, 2)
  const [masterOurs, masterRecipe, masterSaveLoad] = await turn<[ActionRun, RecipeRun, SaveLoadRun | undefined]>([
    () => actionJob(lab, master),
    recipe,
    saveLoad('push-master', 2)
  ])
  const masterLocal = await actionJob(lab, local)
  expectSource(masterOurs, 'branch')
  expectSource(masterLocal, 'branch')
  say(`changed source on master: ours ${masterOurs.total.toFixed(1)} s, recipe ${masterRecipe.total.toFixed(1)} s, local backend ${masterLocal.total.toFixed(1)} s${others(masterSaveLoad)}`)
  await fs.promises.rm(seed, { recursive: true, force: true })
  await fs.promises.rm(cacheRoot, { recursive: true, force: true })
  if (archive) await fs.promises.rm(archive.dir, { recursive: true, force: true })

  return {
    run: {
      cold, exact, bareImport: bare, imageFiles, nodeStart, prOurs, prRecipe, masterOurs, masterRecipe, prLocal, masterLocal,
      saveLoad: saveLoadSeed && prSaveLoad && masterSaveLoad ? { seed: saveLoadSeed, pr: prSaveLoad, master: masterSaveLoad } : undefined,
      plainSave, plainRestore, transport, coldEntryBytes: lab.entryBytes(cold.key)
    },
    chain: { fixture, keyPrefix, workspace, release: 2, head: masterOurs.key, entryBytes: [lab.entryBytes(cold.key), lab.entryBytes(masterOurs.key)] }
  }
}

function others(saveLoad: SaveLoadRun | undefined): string {
  return saveLoad ? `, docker save / load ${saveLoad.total.toFixed(1)} s (${saveLoad.cached}/${saveLoad.steps} steps cached)` : ''
}
