import * as core from '@actions/core'
import { randomUUID } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { CacheStore, Restored, SaveResult } from './cache.js'
import { cacheProblem, dirSize, exists, removeDir } from './fsutil.js'

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
  private readonly exported = new Set<string>()
  // An exact key is also seen again under its branch's prefix: warn once.
  private readonly damaged = new Set<string>()

  constructor(private readonly root: string) {
    // On the root's own file system, so that saving is an atomic rename.
    this.incoming = path.join(root, '.incoming')
  }

  async restore(primaryKey: string, restoreKeys: string[]): Promise<Restored | undefined> {
    try {
      for (const key of [primaryKey, ...restoreKeys]) {
        const matchedKey = key === primaryKey ? await this.exact(key) : await this.newestUnder(key)
        if (matchedKey !== undefined) {
          const dir = path.join(this.root, matchedKey)
          core.info(`Cache found in ${this.root} for key: ${matchedKey}`)
          return { matchedKey, dir, sizeBytes: await dirSize(dir) }
        }
      }
    } catch (error) {
      core.warning(`Could not read the cache root ${this.root}, building without a cache: ${(error as Error).message}`)
    }
    return undefined
  }

  async exportDir(): Promise<string> {
    await fs.promises.mkdir(this.incoming, { recursive: true })
    const dir = path.join(this.incoming, randomUUID())
    this.exported.add(dir)
    return dir
  }

  async adopt(exported: string): Promise<string> {
    return exported
  }

  async save(dir: string, key: string): Promise<SaveResult> {
    const target = path.join(this.root, key)
    try {
      if (await exists(target)) {
        const problem = await cacheProblem(target)
        if (problem === undefined) return { saved: false, reason: `an entry for ${key} already exists in ${this.root}` }
        // A damaged entry under this very key would otherwise be skipped by
        // every restore and never replaced.
        core.info(`Replacing the damaged entry ${key} (${problem}).`)
        await this.discard(target)
      }
      const scope = path.dirname(target)
      await fs.promises.mkdir(scope, { recursive: true })
      await fs.promises.rename(dir, target)
      // The new entry supersedes every older one of this image on this branch.
      for (const sibling of await fs.promises.readdir(scope)) {
        if (sibling !== path.basename(target)) await removeDir(path.join(scope, sibling))
      }
      return { saved: true, sizeBytes: await dirSize(target) }
    } catch (error) {
      return { saved: false, reason: `could not write to ${this.root}: ${(error as Error).message}` }
    }
  }

  temporaryPaths(): string[] {
    return [...this.exported]
  }

  private async exact(key: string): Promise<string | undefined> {
    return (await this.usable(path.join(this.root, key), key)) ? key : undefined
  }

  private async newestUnder(prefix: string): Promise<string | undefined> {
    const scope = path.join(this.root, prefix)
    const names = await fs.promises.readdir(scope).catch(() => [] as string[])
    const complete: Array<{ key: string; mtime: number }> = []
    for (const name of names) {
      const dir = path.join(scope, name)
      if (await this.usable(dir, prefix + name)) complete.push({ key: prefix + name, mtime: (await fs.promises.stat(dir)).mtimeMs })
    }
    complete.sort((a, b) => b.mtime - a.mtime)
    return complete[0]?.key
  }

  /** Whether an entry can be imported; a damaged one is named in a warning and passed over. */
  private async usable(dir: string, key: string): Promise<boolean> {
    if (!(await exists(dir))) return false
    const problem = await cacheProblem(dir)
    if (problem !== undefined && !this.damaged.has(dir)) {
      this.damaged.add(dir)
      core.warning(`Skipping the damaged cache entry ${key} in ${this.root} (${problem}); it is replaced when the default branch next saves.`)
    }
    return problem === undefined
  }

  // Moved aside first, so a reader never sees half a directory.
  private async discard(dir: string): Promise<void> {
    const trash = path.join(this.incoming, `discarded-${randomUUID()}`)
    await fs.promises.mkdir(this.incoming, { recursive: true })
    await fs.promises.rename(dir, trash)
    await removeDir(trash)
  }
}
