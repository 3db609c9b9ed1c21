import * as core from '@actions/core'
import { randomUUID } from 'node:crypto'
import * as path from 'node:path'
import type { Restored } from '../cache/store.js'
import { removeDir } from '../fsutil.js'
import type { CacheMount } from '../key/dockerfile-stages.js'
import { megabytes } from '../megabytes.js'
import { printable } from '../printable.js'
import { fetchFolder } from './carrier.js'
import { archiveProblem, readIndex, type SavedMount } from './folder.js'
import { NOT_EMPTY_MARK, RESTORED_CONTEXT, restoreDockerfile, unwritable } from './generated-dockerfile.js'
import { extract, runMountBuild, type MountBuildSetup } from './mount-builds.js'
import type { MountReport } from './report.js'

export interface MountRestoreContext {
  mounts: CacheMount[]
  /** The Dockerfile's text. */
  dockerfile: string
  entry: Restored
  /** cache-ref, for the registry backend. */
  repository: string
  limitBytes: number
  /** A folder of ours, removed afterwards. */
  scratch: string
  setup: MountBuildSetup
}

/**
 * Copies each mount the restored entry kept into the builder's mount of the
 * same id. Never throws: a mount that can't be restored is a warning, and the
 * build finds it empty.
 */
export async function restoreMounts(context: MountRestoreContext): Promise<MountReport[]> {
  const reports: MountReport[] = context.mounts.map(m => ({ id: m.id }))
  try {
    const fetched = await fetchFolder(context.entry, context.repository, context.scratch, context.setup)
    if (fetched.kind === 'none') {
      core.info(`No cache mount restored: ${fetched.why}.`)
      return reports
    }
    if (fetched.kind === 'failed') {
      core.warning(`The cache mounts could not be restored (${fetched.problem}); the build starts with them empty.`)
      for (const r of reports) r.restoreNote = 'could not be fetched'
      return reports
    }
    const index = await readIndex(fetched.folder)
    if ('problem' in index) {
      core.warning(
        `The cache mounts of ${context.entry.matchedKey} can't be used: ${index.problem}; the build starts with them empty.`
      )
      for (const r of reports) r.restoreNote = index.problem
      return reports
    }
    for (const [i, mount] of context.mounts.entries()) {
      const report = reports[i] as MountReport
      const saved = index.mounts.find(m => m.id === mount.id)
      if (saved === undefined) {
        core.info(
          `The cache mount ${printable(mount.id)} was not saved with ${context.entry.matchedKey}: it starts empty.`
        )
        continue
      }
      const started = Date.now()
      const outcome = await restoreOne(mount, saved, fetched.folder, context)
      report.restoreSeconds = (Date.now() - started) / 1000
      if (outcome.kind === 'failed') {
        core.warning(
          `The cache mount ${printable(mount.id)} could not be restored (${outcome.why}); the build starts with it empty.`
        )
        report.restoreNote = outcome.why
        continue
      }
      if (outcome.kind === 'kept') report.restoreNote = "the builder's own mount was kept"
      else report.restoredBytes = saved.bytes
      core.info(
        outcome.kind === 'kept'
          ? `The builder's cache mount ${printable(mount.id)} already held files: kept.`
          : `Cache mount ${printable(mount.id)} restored (${megabytes(saved.bytes)} in ${report.restoreSeconds.toFixed(1)} s).`
      )
    }
  } catch (error) {
    core.warning(
      `The cache mounts could not be restored: ${(error as Error).message}; the build starts with them empty.`
    )
  } finally {
    await removeDir(context.scratch).catch(() => undefined)
  }
  return reports
}

type OneRestore = { kind: 'restored' } | { kind: 'kept' } | { kind: 'failed'; why: string }

async function restoreOne(
  mount: CacheMount,
  saved: SavedMount,
  folder: string,
  context: MountRestoreContext
): Promise<OneRestore> {
  const cannot = unwritable(mount)
  if (cannot !== undefined) return { kind: 'failed', why: cannot }
  if (context.limitBytes > 0 && saved.bytes > context.limitBytes)
    return {
      kind: 'failed',
      why: `it is ${megabytes(saved.bytes)}, above max-cache-mount-size (${megabytes(context.limitBytes)})`
    }
  const problem = await archiveProblem(folder, saved)
  if (problem !== undefined) return { kind: 'failed', why: problem }
  const files = path.join(context.scratch, 'files')
  const name = path.basename(saved.file, '.tar')
  try {
    await extract(path.join(folder, saved.file), path.join(files, name))
  } catch (error) {
    return { kind: 'failed', why: (error as Error).message }
  }
  try {
    const built = await core.group(`Restore the cache mount ${printable(mount.id)}`, () =>
      runMountBuild(
        {
          dockerfile: restoreDockerfile(context.dockerfile, mount, name, randomUUID()),
          file: path.join(context.scratch, 'restore.Dockerfile'),
          output: 'type=cacheonly',
          contexts: { [RESTORED_CONTEXT]: files }
        },
        context.setup
      )
    )
    if (!built.ok) return { kind: 'failed', why: `the build that fills it failed: ${built.error}` }
    return built.output.includes(NOT_EMPTY_MARK) ? { kind: 'kept' } : { kind: 'restored' }
  } finally {
    await removeDir(path.join(files, name))
  }
}
