// The scenarios, each a sequence of jobs on fresh runners against one cache
// service. Every comparison is taken inside one run, its two sides back to
// back, so that the load others put on the machine hits both alike.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { packDir, unpackInto } from './archive.js'
import { actionJob, type ActionRun } from './jobs.js'
import { setRelease, type Lab } from './lab.js'
import { recipeJob, type RecipeRun } from './recipe.js'
import { timed } from './timing.js'
import { probeTransport, type TransportProbe } from './transport.js'

/** A plain tar + zstd of a directory, or its extraction. */
export interface PlainTransfer {
  seconds: number
  bytes: number
}

export interface CycleRun {
  cold: ActionRun
  exact: ActionRun
  prOurs: ActionRun
  prRecipe: RecipeRun
  /** Also the "warm fallback hit after a changed COPY source". */
  masterOurs: ActionRun
  masterRecipe: RecipeRun
  /** The same two jobs with `cache-backend: local`, the recipe's own kind of transport. */
  prLocal: ActionRun
  masterLocal: ActionRun
  /** Beside the cold run's save: packing the same directory. */
  plainSave: PlainTransfer
  /** Beside the exact hit's restore: extracting the same directory. */
  plainRestore: PlainTransfer
  /** The cold build's entry moved by curl alone. */
  transport: TransportProbe
  /** The archive the cold build saved. */
  coldEntryBytes: number
}

/** Master builds of one image under one key prefix, for the scenarios that continue it. */
export interface Chain {
  keyPrefix: string
  workspace: string
  release: number
  /** The newest entry's key. */
  head: string
  /** Bytes of the entry each master build saved, in order. */
  entryBytes: number[]
}

export type Progress = (line: string) => void

/**
 * One run of: a cold build on master; a fresh runner's exact hit; a pull
 * request; a commit that changes a COPY source, built on master. The pull
 * request and the commit each run three ways: ours with the cache service,
 * the recipe, ours with the local backend. The recipe and the local backend
 * start from the very directory our first entry holds.
 */
export async function cycleRun(lab: Lab, index: number, say: Progress): Promise<{ run: CycleRun; chain: Chain }> {
  const { fixture } = lab.settings
  const keyPrefix = `bench-${index}`
  const workspace = lab.workspace(fixture)
  setRelease(workspace, fixture, 1)
  const master = { workspace, trigger: 'push-master', keyPrefix } as const

  const cold = await actionJob(lab, master)
  say(`cold build ${cold.total.toFixed(1)} s (${mb(cold.cacheBytes)} MB cache)`)
  expectSource(cold, 'none')

  // The directory our entry holds, as a plain tarball: the plain-save baseline
  // and the recipe's starting point.
  const seed = lab.tempDir('seed-')
  const seedDir = await unpackEntry(lab, cold.key, seed)
  const tarball = path.join(seed, 'recipe-cache.tar.zst')
  const packed = await timed(() => packDir(seedDir, tarball))
  const plainSave = { seconds: packed.seconds, bytes: await dirBytes(seedDir) }

  const exact = await actionJob(lab, master)
  expectSource(exact, 'exact')
  const extractTo = lab.tempDir('plain-restore-')
  const extracted = await timed(() => unpackInto(tarball, extractTo))
  const plainRestore = { seconds: extracted.seconds, bytes: await dirBytes(extractTo) }
  await fs.promises.rm(extractTo, { recursive: true, force: true })
  const transport = await probeTransport(lab, cold.key)
  say(
    `exact hit ${exact.total.toFixed(1)} s; restore ${exact.restore} s, plain extraction ${plainRestore.seconds.toFixed(1)} s, ` +
      `curl download ${transport.downloadSeconds.toFixed(1)} s`
  )

  // The local backend's root, holding the same first entry.
  const cacheRoot = lab.tempDir('cache-root-')
  await fs.promises.cp(seedDir, path.join(cacheRoot, cold.key), { recursive: true })
  const local = { ...master, inputs: { 'cache-backend': 'local', 'cache-root': cacheRoot } }

  const recipeSave = path.join(seed, 'recipe-saved.tar.zst')
  const recipe = (): Promise<RecipeRun> => recipeJob(lab, { workspace, restoreFrom: tarball, saveTo: recipeSave })
  // Odd runs start with ours, even runs with the recipe, so that neither side
  // always runs right after a cold build's write-back.
  const oursFirst = index % 2 === 1
  const pair = async (ours: () => Promise<ActionRun>): Promise<[ActionRun, RecipeRun]> => {
    if (oursFirst) {
      const a = await ours()
      return [a, await recipe()]
    }
    const b = await recipe()
    return [await ours(), b]
  }

  const [prOurs, prRecipe] = await pair(() => actionJob(lab, { ...master, trigger: 'pull-request' }))
  const prLocal = await actionJob(lab, { ...local, trigger: 'pull-request' })
  expectSource(prOurs, 'base-branch')
  expectSource(prLocal, 'base-branch')
  say(`pull request: ours ${prOurs.total.toFixed(1)} s, recipe ${prRecipe.total.toFixed(1)} s, local backend ${prLocal.total.toFixed(1)} s`)

  setRelease(workspace, fixture, 2)
  const [masterOurs, masterRecipe] = await pair(() => actionJob(lab, master))
  const masterLocal = await actionJob(lab, local)
  expectSource(masterOurs, 'branch')
  expectSource(masterLocal, 'branch')
  say(`changed source on master: ours ${masterOurs.total.toFixed(1)} s, recipe ${masterRecipe.total.toFixed(1)} s, local backend ${masterLocal.total.toFixed(1)} s`)
  await fs.promises.rm(seed, { recursive: true, force: true })
  await fs.promises.rm(cacheRoot, { recursive: true, force: true })

  return {
    run: {
      cold, exact, prOurs, prRecipe, masterOurs, masterRecipe, prLocal, masterLocal,
      plainSave, plainRestore, transport, coldEntryBytes: lab.entryBytes(cold.key)
    },
    chain: { keyPrefix, workspace, release: 2, head: masterOurs.key, entryBytes: [lab.entryBytes(cold.key), lab.entryBytes(masterOurs.key)] }
  }
}

/** Extracts an entry's archive into `into`; returns the cache directory it held. */
export async function unpackEntry(lab: Lab, key: string, into: string): Promise<string> {
  await unpackInto(lab.entry(key).blob, into, true)
  const dirs = (await fs.promises.readdir(into, { withFileTypes: true })).filter(d => d.isDirectory())
  if (dirs.length !== 1) throw new Error(`The entry ${key} should hold one directory, not ${dirs.map(d => d.name).join(', ') || 'none'}.`)
  return path.join(into, dirs[0].name)
}

/** Bytes of the regular files below dir, as the action's cache-size output counts them. */
async function dirBytes(dir: string): Promise<number> {
  const entries = await fs.promises.readdir(dir, { recursive: true, withFileTypes: true })
  const sizes = await Promise.all(entries.filter(e => e.isFile()).map(e => fs.promises.stat(path.join(e.parentPath, e.name)).then(s => s.size)))
  return sizes.reduce((a, b) => a + b, 0)
}

/** Master builds that each change a COPY source, until the chain has `builds` entries. */
export async function growth(lab: Lab, chain: Chain, builds: number, say: Progress): Promise<Chain> {
  const { fixture } = lab.settings
  let current = chain
  while (current.entryBytes.length < builds) {
    const release = current.release + 1
    setRelease(current.workspace, fixture, release)
    const r = await actionJob(lab, { workspace: current.workspace, trigger: 'push-master', keyPrefix: current.keyPrefix })
    expectSource(r, 'branch')
    current = { ...current, release, head: r.key, entryBytes: [...current.entryBytes, lab.entryBytes(r.key)] }
    say(`master build ${current.entryBytes.length}/${builds}: entry ${mb(current.entryBytes.at(-1) ?? 0)} MB`)
  }
  return current
}

export function expectSource(r: ActionRun, source: string): void {
  if (r.source !== source) throw new Error(`Expected the restore to come from "${source}", got "${r.source}" (key ${r.key}).`)
}

export function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1)
}
