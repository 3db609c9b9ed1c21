import * as core from '@actions/core'
import { randomUUID } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { CacheLocation } from '../cache/store.js'
import { removeDir } from '../fsutil.js'
import type { CacheMount } from '../key/dockerfile-stages.js'
import { megabytes } from '../megabytes.js'
import { printable } from '../printable.js'
import { publishFolder, saveFolder } from './carrier.js'
import { archiveName, sha256Of, writeIndex, type SavedMount } from './folder.js'
import { saveDockerfile, unwritable } from './generated-dockerfile.js'
import { runMountBuild, type MountBuildSetup } from './mount-builds.js'
import type { MountReport } from './report.js'

export interface MountSaveContext {
  mounts: CacheMount[]
  dockerfile: string
  /** Where the build exported the entry the mounts go with. */
  location: CacheLocation
  /** The content key the entry is saved under (the registry names the mounts' image after it). */
  contentKey: string
  repository: string
  limitBytes: number
  scratch: string
  setup: MountBuildSetup
}

/**
 * Exports each mount from the builder into the entry about to be saved; a
 * mount over the limit, or one that can't be exported, is left out with a
 * warning and the others are saved. Never throws.
 */
export async function saveMounts(context: MountSaveContext, reports: MountReport[]): Promise<MountReport[]> {
  const byId = new Map(reports.map(r => [r.id, { ...r }]))
  const report = (id: string): MountReport => {
    const found = byId.get(id) ?? { id }
    byId.set(id, found)
    return found
  }
  try {
    const folder = saveFolder(context.location, context.scratch)
    await removeDir(folder)
    await fs.promises.mkdir(folder, { recursive: true })
    const saved: SavedMount[] = []
    for (const mount of context.mounts) {
      const r = report(mount.id)
      const started = Date.now()
      const one = await saveOne(mount, folder, context)
      r.saveSeconds = (Date.now() - started) / 1000
      if ('problem' in one) {
        core.warning(`The cache mount ${printable(mount.id)} is not saved: ${one.problem}.`)
        r.saveNote = one.problem
        continue
      }
      saved.push(one)
      r.savedBytes = one.bytes
      core.info(
        `Cache mount ${printable(mount.id)} exported (${megabytes(one.bytes)} in ${r.saveSeconds.toFixed(1)} s).`
      )
    }
    await writeIndex(folder, saved)
    const problem = await publishFolder(
      context.location,
      folder,
      context.repository,
      context.contentKey,
      context.scratch,
      context.setup
    )
    if (problem !== undefined) {
      core.warning(`The cache mounts are not saved: ${problem}.`)
      for (const r of byId.values())
        if (r.savedBytes !== undefined) {
          r.savedBytes = undefined
          r.saveNote = 'the push failed'
        }
    }
  } catch (error) {
    core.warning(`The cache mounts are not saved: ${(error as Error).message}`)
  } finally {
    await removeDir(context.scratch).catch(() => undefined)
  }
  return [...byId.values()]
}

async function saveOne(
  mount: CacheMount,
  folder: string,
  context: MountSaveContext
): Promise<SavedMount | { problem: string }> {
  const cannot = unwritable(mount)
  if (cannot !== undefined) return { problem: cannot }
  const file = archiveName(mount.id)
  const archive = path.join(folder, file)
  const built = await core.group(`Export the cache mount ${printable(mount.id)}`, () =>
    runMountBuild(
      {
        dockerfile: saveDockerfile(context.dockerfile, mount, randomUUID()),
        file: path.join(context.scratch, 'save.Dockerfile'),
        output: `type=tar,dest=${archive}`
      },
      context.setup
    )
  )
  if (!built.ok) {
    await fs.promises.rm(archive, { force: true })
    return { problem: `the build that exports it failed: ${built.error}` }
  }
  const bytes = (await fs.promises.stat(archive)).size
  if (context.limitBytes > 0 && bytes > context.limitBytes) {
    await fs.promises.rm(archive, { force: true })
    return { problem: `it is ${megabytes(bytes)}, above max-cache-mount-size (${megabytes(context.limitBytes)})` }
  }
  return { id: mount.id, file, bytes, sha256: await sha256Of(archive) }
}
