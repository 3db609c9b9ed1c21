import * as core from '@actions/core'
import { randomUUID } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { CacheStore, Restored, SaveResult } from './cache.js'
import { dirSize, exists, looksLikeBuildxCache, removeDir } from './fsutil.js'

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
      if (await exists(target)) return { saved: false, reason: `an entry for ${key} already exists in ${this.root}` }
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
    return (await looksLikeBuildxCache(path.join(this.root, key))) ? key : undefined
  }

  private async newestUnder(prefix: string): Promise<string | undefined> {
    const scope = path.join(this.root, prefix)
    const names = await fs.promises.readdir(scope).catch(() => [] as string[])
    const complete: Array<{ key: string; mtime: number }> = []
    for (const name of names) {
      const dir = path.join(scope, name)
      if (await looksLikeBuildxCache(dir)) complete.push({ key: prefix + name, mtime: (await fs.promises.stat(dir)).mtimeMs })
    }
    complete.sort((a, b) => b.mtime - a.mtime)
    return complete[0]?.key
  }
}
