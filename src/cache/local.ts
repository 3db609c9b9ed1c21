import * as core from '@actions/core'
import { randomUUID } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { dirSize, exists, removeDir } from '../fsutil.js'
import { branchScope, isPartialKey, type KeyPlan, type RestoreKey } from '../key/key.js'
import { cacheProblem } from './integrity.js'
import type { CacheLocation, CacheStore, Exported, Restored, SaveResult } from './store.js'

/**
 * A directory that outlives the runner (a persisted volume on self-hosted or
 * ephemeral runners). Each entry is a buildx local cache at `<root>/<key>`:
 * keys are built from escaped components joined by `/`, so they are safe
 * relative paths, and a restore key names the folder of one image on one
 * branch. Buildx imports an entry in place; nothing is copied on restore.
 */
export class LocalCacheStore implements CacheStore {
  readonly backend = 'local'
  private readonly incoming: string
  private readonly exportDir: string
  // An exact key is also seen again under its branch's prefix: warn once.
  private readonly damaged = new Set<string>()

  constructor(
    private readonly root: string,
    jobId: string
  ) {
    // On the root's own file system, so that saving is an atomic rename.
    this.incoming = path.join(root, '.incoming')
    this.exportDir = path.join(this.incoming, jobId)
  }

  async restore(plan: KeyPlan): Promise<Restored | undefined> {
    try {
      const root = await fs.promises.stat(this.root).catch(missingAsUndefined)
      if (root === undefined) {
        core.info(`The cache root ${this.root} does not exist yet: nothing to restore.`)
        return undefined
      }
      if (!root.isDirectory()) throw new Error('it is not a directory')
      const exact = path.join(this.root, plan.content)
      if (await present(exact)) {
        const problem = await this.problemOf(exact, plan.content)
        if (problem === undefined) return await this.found(plan.content)
        // Another image's entry may still serve the build; the save then
        // replaces the damaged one, as it would a stale one.
        const fallback = await this.firstOf(plan.restoreKeys)
        return fallback ? await this.found(fallback) : { matchedKey: plan.content, from: [], sizeBytes: 0, problem }
      }
      const fallback = await this.firstOf(plan.restoreKeys)
      if (fallback) return await this.found(fallback)
    } catch (error) {
      core.warning(`Could not read the cache root ${this.root}, building without a cache: ${(error as Error).message}`)
    }
    return undefined
  }

  async exportTo(): Promise<CacheLocation> {
    await fs.promises.mkdir(this.incoming, { recursive: true })
    await removeDir(this.exportDir)
    return { type: 'local', dir: this.exportDir }
  }

  async exported(): Promise<Exported> {
    const problem = await cacheProblem(this.exportDir)
    return { sizeBytes: await dirSize(this.exportDir), problem }
  }

  // The new entry takes the content key's place, whatever was there (a stale
  // or damaged entry of the same content), and supersedes every older entry
  // of this image on this branch; a partial one (a failed build's progress)
  // supersedes only older partial ones.
  async save(plan: Pick<KeyPlan, 'content'>): Promise<SaveResult> {
    try {
      return await this.moveIntoPlace(plan.content)
    } finally {
      await this.removeLeftovers()
    }
  }

  private async moveIntoPlace(content: string): Promise<SaveResult> {
    const target = path.join(this.root, content)
    try {
      if (await exists(target)) await this.discard(target)
      const scope = path.dirname(target)
      await fs.promises.mkdir(scope, { recursive: true })
      await fs.promises.rename(this.exportDir, target)
      const partial = isPartialKey(content)
      for (const sibling of await fs.promises.readdir(scope)) {
        const superseded = !partial || isPartialKey(`${branchScope(content)}${sibling}`)
        if (sibling !== path.basename(target) && superseded) await removeDir(path.join(scope, sibling))
      }
      return { saved: true, key: content, sizeBytes: await dirSize(target) }
    } catch (error) {
      return { saved: false, reason: `could not write to ${this.root}: ${(error as Error).message}` }
    }
  }

  /**
   * Removes what killed jobs left in .incoming: exports whose post step never
   * ran, and entries a save was discarding. An export sits there from the
   * build to the post step, so only one untouched for a day goes (a job may
   * run 6 hours by default); never this job's own.
   */
  private async removeLeftovers(now: number = Date.now()): Promise<void> {
    const names = await fs.promises.readdir(this.incoming).catch(() => [] as string[])
    const removed: string[] = []
    for (const name of names) {
      const dir = path.join(this.incoming, name)
      if (dir === this.exportDir) continue
      const touched = await lastTouched(dir)
      if (touched === undefined) continue
      if (!name.startsWith(DISCARDED) && now - touched < LEFTOVER_AGE_MS) continue
      try {
        await removeDir(dir)
        removed.push(name)
      } catch (error) {
        core.warning(`Could not remove the leftover ${dir}: ${(error as Error).message}`)
      }
    }
    if (removed.length > 0) {
      core.info(
        `Removed ${removed.length} leftover director${removed.length === 1 ? 'y' : 'ies'} of jobs that ended before their save from ${this.incoming}.`
      )
    }
  }

  temporaryPaths(): string[] {
    return [this.exportDir]
  }

  private async found(key: string): Promise<Restored> {
    const dir = path.join(this.root, key)
    core.info(`Cache found in ${this.root} for key: ${key}`)
    return { matchedKey: key, from: [{ type: 'local', dir }], sizeBytes: await dirSize(dir) }
  }

  // An entry of the same content is a directory named by the key itself; a
  // branch's scope holds one directory per content, the newest wins.
  private async firstOf(restoreKeys: RestoreKey[]): Promise<string | undefined> {
    for (const { key, sameContent } of restoreKeys) {
      const found = sameContent ? await this.exactEntry(key.slice(0, -1)) : await this.newestUnder(key)
      if (found !== undefined) return found
    }
    return undefined
  }

  private async exactEntry(key: string): Promise<string | undefined> {
    return (await this.usable(path.join(this.root, key), key)) ? key : undefined
  }

  private async newestUnder(prefix: string): Promise<string | undefined> {
    const scope = path.join(this.root, prefix)
    const names = (await fs.promises.readdir(scope).catch(missingAsUndefined)) ?? []
    const complete: Array<{ key: string; mtime: number }> = []
    for (const name of names) {
      const dir = path.join(scope, name)
      if (await this.usable(dir, prefix + name))
        complete.push({ key: prefix + name, mtime: (await fs.promises.stat(dir)).mtimeMs })
    }
    complete.sort((a, b) => b.mtime - a.mtime)
    return complete[0]?.key
  }

  /** Whether an entry can be imported; a damaged one is named in a warning and passed over. */
  private async usable(dir: string, key: string): Promise<boolean> {
    return (await present(dir)) && (await this.problemOf(dir, key)) === undefined
  }

  private async problemOf(dir: string, key: string): Promise<string | undefined> {
    const problem = await cacheProblem(dir)
    if (problem !== undefined && !this.damaged.has(dir)) {
      this.damaged.add(dir)
      core.warning(
        `Skipping the damaged cache entry ${key} in ${this.root} (${problem}); the next run that may write replaces it.`
      )
    }
    return problem
  }

  // Moved aside first, so a reader never sees half a directory.
  private async discard(dir: string): Promise<void> {
    const trash = path.join(this.incoming, `${DISCARDED}${randomUUID()}`)
    await fs.promises.mkdir(this.incoming, { recursive: true })
    await fs.promises.rename(dir, trash)
    await removeDir(trash)
  }
}

const DISCARDED = 'discarded-'
const LEFTOVER_AGE_MS = 24 * 60 * 60 * 1000

/**
 * Only a missing path means "no cache yet": any other error (EACCES, ENOTDIR,
 * ELOOP, EIO) is a cache root that cannot be read, which the restore must say
 * rather than pass for an empty one.
 */
function missingAsUndefined(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
  throw error
}

async function present(p: string): Promise<boolean> {
  return (await fs.promises.lstat(p).catch(missingAsUndefined)) !== undefined
}

// A directory's own time changes when an entry is added to it; an export's
// index.json is written last. The later of the two is when a job last wrote there.
async function lastTouched(dir: string): Promise<number | undefined> {
  const own = await fs.promises.lstat(dir).catch(() => undefined)
  if (own === undefined) return undefined
  const index = await fs.promises.lstat(path.join(dir, 'index.json')).catch(() => undefined)
  return Math.max(own.mtimeMs, index?.mtimeMs ?? 0)
}
