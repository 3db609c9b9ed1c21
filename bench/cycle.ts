// One run of the main scenario, every comparison inside it with its sides
// back to back, so that the load others put on the machine hits both alike:
// a fresh runner's exact hit beside its limits; a pull request; a commit that
// changes a COPY source, built on master. The pull request and the commit run
// ours, the recipe and ours with the local backend, all from the entry the
// run starts from. The first run starts with the cold build that makes that
// entry, and measures the docker save / load approach beside it; each later
// run starts from the entry the previous one saved, one master commit on.
// BuildKit's own type=gha builds the same commits in the same turns, from
// the same service, and so does ours on the classic image store (through the
// docker-container builder the action creates), from entries of its own.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { packDir, unpackInto } from './archive.js'
import type { PlainBuildResult } from './buildx-build.js'
import { dirBytes, unpackEntry } from './entries.js'
import { ghaJob, storedBytes, type GhaRun } from './gha.js'
import { chainFrom, type Chain } from './growth.js'
import { actionJob, expectSource, type ActionJob, type ActionRun } from './jobs.js'
import { setRelease, type Lab } from './lab.js'
import { bareImport, bareNodeStart, imageFilesExtraction } from './limits.js'
import type { Progress } from './progress.js'
import { recipeJob, type RecipeRun } from './recipe.js'
import { imageArchive, saveImage, saveLoadJob, type SaveLoadRun } from './save-load.js'
import { timed } from './timing.js'
import { probeTransport, type TransportProbe } from './transport.js'
import { inTurn } from './turns.js'

/** Ours on the classic store keeps entries apart from ours on the containerd store. */
const CLASSIC_PREFIX = 'classic'

/** A plain tar + zstd of a directory, or its extraction. */
export interface PlainTransfer {
  seconds: number
  bytes: number
}

export interface CycleRun {
  /** The run's starting entry, by the master job that saved it: the cold build in the first run. */
  cold?: ActionRun
  /** The save of the job that made the entry this run starts from (the cold build, or the previous run's master commit). */
  headSave: { seconds: number; cacheBytes: number }
  exact: ActionRun
  /** BuildKit alone importing the directory the run starts from, on a fresh runner. */
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
  /** The same commit with `cache-backend: local`, the recipe's own kind of transport. */
  masterLocal: ActionRun
  /** The docker save / load approach, in the first run: its save after the cold build, then its pull request. */
  saveLoad?: { seed: PlainTransfer; pr: SaveLoadRun }
  /** Beside the save that made the run's entry: packing the same directory. */
  plainSave: PlainTransfer
  /** Beside the exact hit's restore: extracting the same directory. */
  plainRestore: PlainTransfer
  /** The same exact hit, pull request and commit with `cache-backend: registry`, on the engine's own registry. */
  registry: { exact: ActionRun; pr: ActionRun; master: ActionRun }
  /** The run's entry moved by curl alone. */
  transport: TransportProbe
  /** BuildKit's own type=gha on the same commits, the same service, the containerd store: the cold build in the first run only. */
  gha: { cold?: GhaRun; exact: GhaRun; pr: GhaRun; master: GhaRun }
  /** Ours on the classic image store, under a key prefix of its own: the cold build in the first run only. */
  classic: { cold?: ActionRun; pr: ActionRun; master: ActionRun }
  /** type=gha on the classic store, through a docker-container builder, in a repository of its own. */
  ghaClassic: { cold?: GhaRun; pr: GhaRun; master: GhaRun }
  /** The archive the run starts from. */
  entryBytes: number
}

export async function cycleRun(
  lab: Lab,
  previous: { chain: Chain; run: CycleRun } | undefined,
  index: number,
  say: Progress
): Promise<{ run: CycleRun; chain: Chain }> {
  const { fixture } = lab.settings
  const turn = <T extends unknown[]>(jobs: { [K in keyof T]: () => Promise<T[K]> }): Promise<T> =>
    inTurn(index - 1, jobs)

  let chain: Chain
  let cold: ActionRun | undefined
  let ghaCold: GhaRun | undefined
  let classicCold: ActionRun | undefined
  let ghaClassicCold: GhaRun | undefined
  let saveLoadSeed: PlainTransfer | undefined
  const archive = previous ? undefined : imageArchive(lab, 'bench')
  if (previous) {
    chain = previous.chain
  } else {
    const workspace = await lab.workspace(fixture)
    setRelease(workspace, fixture, 1)
    const start = { fixture, workspace, trigger: 'push-master' } as const
    ;[cold, ghaCold, classicCold, ghaClassicCold] = await turn<[ActionRun, GhaRun, ActionRun, GhaRun]>([
      () => actionJob(lab, { ...start, keyPrefix: 'bench' }),
      () => ghaJob(lab, start),
      () => actionJob(lab, { ...start, keyPrefix: CLASSIC_PREFIX, store: 'classic' }),
      () => ghaJob(lab, { ...start, store: 'classic' })
    ])
    expectSource(classicCold, 'none')
    chain = chainFrom(lab, { fixture, keyPrefix: 'bench', workspace, withGha: true }, cold, say)
    say(
      `cold build: type=gha ${ghaCold.total.toFixed(1)} s, ours on the classic store ${classicCold.total.toFixed(1)} s (builder bootstrap ${classicCold.bootstrap.toFixed(1)} s), type=gha there ${ghaClassicCold.total.toFixed(1)} s`
    )
    // The save / load approach's own cold run builds the same image: its save
    // is all that differs, taken while a cold build's image is loaded (ours
    // or type=gha's, whichever ran last on this engine: the same image).
    saveLoadSeed = archive && (await saveImage(lab, archive, fixture.image, chain.release))
    await seedRegistry(
      lab,
      {
        fixture,
        workspace: chain.workspace,
        trigger: 'push-master',
        keyPrefix: chain.keyPrefix,
        cacheRef: lab.cacheRef(fixture)
      },
      say
    )
  }
  const { workspace, keyPrefix, release } = chain
  const headSave = cold
    ? { seconds: cold.save, cacheBytes: cold.cacheBytes }
    : { seconds: previous?.run.masterOurs.save ?? 0, cacheBytes: previous?.run.masterOurs.cacheBytes ?? 0 }
  setRelease(workspace, fixture, release)
  const master = { fixture, workspace, trigger: 'push-master', keyPrefix } as const
  const registry = { ...master, cacheRef: lab.cacheRef(fixture) }
  const gha = { fixture, workspace, trigger: 'push-master' } as const
  const classic = { ...master, keyPrefix: CLASSIC_PREFIX, store: 'classic' } as const

  // The directory the entry holds, as a plain tarball: the plain-save baseline
  // and the recipe's starting point.
  const seed = lab.tempDir('seed-')
  const seedDir = await unpackEntry(lab, chain.head, seed)
  const tarball = path.join(seed, 'recipe-cache.tar.zst')
  const packed = await timed(() => packDir(seedDir, tarball))
  const plainSave = { seconds: packed.seconds, bytes: await dirBytes(seedDir) }

  const [exact, bare, registryExact, ghaExact] = await turn<[ActionRun, PlainBuildResult, ActionRun, GhaRun]>([
    () => actionJob(lab, master),
    () => bareImport(lab, fixture, workspace, seedDir),
    () => actionJob(lab, registry),
    () => ghaJob(lab, gha)
  ])
  expectSource(exact, 'exact')
  expectSource(registryExact, 'exact')
  const imageFiles = await imageFilesExtraction(lab, fixture.image)
  const extractTo = lab.tempDir('plain-restore-')
  const extracted = await timed(() => unpackInto(tarball, extractTo))
  const plainRestore = { seconds: extracted.seconds, bytes: await dirBytes(extractTo) }
  await fs.promises.rm(extractTo, { recursive: true, force: true })
  const transport = await probeTransport(lab, chain.head)
  const nodeStart = await bareNodeStart()
  say(
    `exact hit ${exact.total.toFixed(1)} s (restore ${exact.restore} s, build ${exact.build.toFixed(1)} s); bare import ` +
      `${bare.seconds.toFixed(1)} s, type=gha ${ghaExact.total.toFixed(1)} s, image files ${imageFiles.seconds.toFixed(1)} s, curl download ${transport.downloadSeconds.toFixed(1)} s, node ${nodeStart.toFixed(2)} s`
  )

  const recipeSave = path.join(seed, 'recipe-saved.tar.zst')
  const recipe = (): Promise<RecipeRun> =>
    recipeJob(lab, { fixture, workspace, restoreFrom: tarball, saveTo: recipeSave })
  const saveLoad = (): Promise<SaveLoadRun | undefined> =>
    archive
      ? saveLoadJob(lab, { fixture, workspace, trigger: 'pull-request', archive, release })
      : Promise.resolve(undefined)
  const [prOurs, prRecipe, prSaveLoad, registryPr, ghaPr, classicPr, ghaClassicPr] = await turn<
    [ActionRun, RecipeRun, SaveLoadRun | undefined, ActionRun, GhaRun, ActionRun, GhaRun]
  >([
    () => actionJob(lab, { ...master, trigger: 'pull-request' }),
    recipe,
    saveLoad,
    () => actionJob(lab, { ...registry, trigger: 'pull-request' }),
    () => ghaJob(lab, { ...gha, trigger: 'pull-request' }),
    () => actionJob(lab, { ...classic, trigger: 'pull-request' }),
    () => ghaJob(lab, { ...gha, trigger: 'pull-request', store: 'classic' })
  ])
  expectSource(prOurs, 'base-branch')
  expectSource(registryPr, 'base-branch')
  expectSource(classicPr, 'base-branch')
  say(
    `pull request: ours ${prOurs.total.toFixed(1)} s, recipe ${prRecipe.total.toFixed(1)} s${others(prSaveLoad)}, registry backend ${registryPr.total.toFixed(1)} s, ` +
      `type=gha ${ghaPr.total.toFixed(1)} s, ours on the classic store ${classicPr.total.toFixed(1)} s, type=gha there ${ghaClassicPr.total.toFixed(1)} s`
  )

  // The local backend's root, holding the same entry.
  const cacheRoot = lab.tempDir('cache-root-')
  await fs.promises.cp(seedDir, path.join(cacheRoot, chain.head), { recursive: true })
  const local = { ...master, inputs: { 'cache-backend': 'local', 'cache-root': cacheRoot } }
  setRelease(workspace, fixture, release + 1)
  // The registry's job pushes the entry the next run's registry jobs start from.
  const [masterOurs, masterRecipe, masterLocal, registryMaster, ghaMaster, classicMaster, ghaClassicMaster] =
    await turn<[ActionRun, RecipeRun, ActionRun, ActionRun, GhaRun, ActionRun, GhaRun]>([
      () => actionJob(lab, master),
      recipe,
      () => actionJob(lab, local),
      () => actionJob(lab, registry),
      () => ghaJob(lab, gha),
      () => actionJob(lab, classic),
      () => ghaJob(lab, { ...gha, store: 'classic' })
    ])
  expectSource(masterOurs, 'branch')
  expectSource(masterLocal, 'branch')
  expectSource(registryMaster, 'branch')
  expectSource(classicMaster, 'branch')
  say(
    `changed source on master: ours ${masterOurs.total.toFixed(1)} s, recipe ${masterRecipe.total.toFixed(1)} s, local backend ` +
      `${masterLocal.total.toFixed(1)} s, registry backend ${registryMaster.total.toFixed(1)} s, type=gha ${ghaMaster.total.toFixed(1)} s, ` +
      `ours on the classic store ${classicMaster.total.toFixed(1)} s, type=gha there ${ghaClassicMaster.total.toFixed(1)} s`
  )
  await fs.promises.rm(seed, { recursive: true, force: true })
  await fs.promises.rm(cacheRoot, { recursive: true, force: true })
  if (archive) await fs.promises.rm(archive.dir, { recursive: true, force: true })

  return {
    run: {
      cold,
      headSave,
      exact,
      bareImport: bare,
      imageFiles,
      nodeStart,
      prOurs,
      prRecipe,
      masterOurs,
      masterRecipe,
      masterLocal,
      saveLoad: saveLoadSeed && prSaveLoad ? { seed: saveLoadSeed, pr: prSaveLoad } : undefined,
      plainSave,
      plainRestore,
      registry: { exact: registryExact, pr: registryPr, master: registryMaster },
      transport,
      entryBytes: lab.entryBytes(chain.head),
      gha: { cold: ghaCold, exact: ghaExact, pr: ghaPr, master: ghaMaster },
      classic: { cold: classicCold, pr: classicPr, master: classicMaster },
      ghaClassic: { cold: ghaClassicCold, pr: ghaClassicPr, master: ghaClassicMaster }
    },
    chain: {
      ...chain,
      release: release + 1,
      head: masterOurs.key,
      entryBytes: [...chain.entryBytes, lab.entryBytes(masterOurs.key)],
      stored: chain.stored && [...chain.stored, storedBytes(lab, fixture, keyPrefix)]
    }
  }
}

/**
 * The registry's first entry, pushed by the action's own master job right
 * after the cold build, on the same engine: every step is cached there, so
 * the job only exports, as a master run that moves a project to the
 * registry backend would.
 */
async function seedRegistry(lab: Lab, job: ActionJob, say: Progress): Promise<void> {
  const seeded = await actionJob(lab, { ...job, warmRunner: true })
  expectSource(seeded, 'none')
  if (seeded.cached !== seeded.steps)
    throw new Error(
      `Seeding the registry rebuilt ${seeded.steps - seeded.cached} of ${seeded.steps} steps: the engine lost its build cache.`
    )
  say(`registry seeded in ${seeded.total.toFixed(1)} s (cache export ${seeded.export.toFixed(1)} s)`)
}

function others(saveLoad: SaveLoadRun | undefined): string {
  return saveLoad
    ? `, docker save / load ${saveLoad.total.toFixed(1)} s (${saveLoad.cached}/${saveLoad.steps} steps cached)`
    : ''
}
