import * as cache from '@actions/cache'
import * as core from '@actions/core'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { CacheStore, Restored, SaveResult } from './cache.js'
import { dirSize, looksLikeBuildxCache, removeDir } from './fsutil.js'
import { keyComponent } from './key.js'

/**
 * The GitHub Actions cache service. The service's entry version hashes the
 * path strings the client is given, and the client archives paths relative to
 * GITHUB_WORKSPACE. Each call therefore runs with the workspace and the
 * working directory set to our own folder under RUNNER_TEMP and names the
 * cache by a relative path: the version is the same on every runner, however
 * its directories are laid out, and the archive extracts where we look.
 */
export class GhaCacheStore implements CacheStore {
  readonly backend = 'gha'
  private readonly workRoot: string
  private readonly cacheName: string
  private readonly cacheDir: string
  // The client leaves empty directories in its temp dir after every call;
  // giving it one of ours lets us remove them all.
  private readonly clientTemp: string

  constructor(runnerTemp: string, image: string) {
    this.workRoot = path.join(runnerTemp, 'buildx-ci-cache')
    this.cacheName = keyComponent(image)
    this.cacheDir = path.join(this.workRoot, this.cacheName)
    this.clientTemp = path.join(this.workRoot, `${this.cacheName}.client-tmp`)
  }

  async restore(primaryKey: string, restoreKeys: string[]): Promise<Restored | undefined> {
    if (!cache.isFeatureAvailable()) {
      core.warning('The GitHub Actions cache service is not available to this job (ACTIONS_RESULTS_URL or ACTIONS_RUNTIME_TOKEN is unset); building without a cache.')
      return undefined
    }
    await removeDir(this.cacheDir)
    let matchedKey: string | undefined
    try {
      matchedKey = await this.inWorkRoot(() => cache.restoreCache([this.cacheName], primaryKey, restoreKeys))
    } catch (error) {
      core.warning(`Cache restore failed, building without a cache: ${(error as Error).message}`)
    }
    // A failed download can leave a half-extracted directory behind, and an
    // archive can hold anything: import only a complete buildx cache.
    if (matchedKey === undefined || !(await looksLikeBuildxCache(this.cacheDir))) {
      if (matchedKey !== undefined) {
        core.warning(`The entry ${matchedKey} holds no buildx cache (no index.json); building without it.`)
      }
      await removeDir(this.cacheDir)
      return undefined
    }
    return { matchedKey, dir: this.cacheDir, sizeBytes: await dirSize(this.cacheDir) }
  }

  async exportDir(): Promise<string> {
    const dir = `${this.cacheDir}.new`
    await removeDir(dir)
    return dir
  }

  // buildx adds to a local cache and never removes from it: writing a fresh
  // directory and swapping it in is what keeps the entry from growing forever.
  async adopt(exported: string): Promise<string> {
    await removeDir(this.cacheDir)
    await fs.promises.rename(exported, this.cacheDir)
    return this.cacheDir
  }

  async save(dir: string, key: string): Promise<SaveResult> {
    if (dir !== this.cacheDir) throw new Error(`Only ${this.cacheDir} can be saved, not ${dir}`)
    try {
      const id = await this.inWorkRoot(() => cache.saveCache([this.cacheName], key))
      if (id === -1) {
        return { saved: false, reason: 'the cache service did not accept the entry (another job may have saved this key first, or the service failed; see above)' }
      }
      return { saved: true, sizeBytes: await dirSize(dir) }
    } catch (error) {
      return { saved: false, reason: `the cache service refused it: ${(error as Error).message}` }
    }
  }

  temporaryPaths(): string[] {
    return [this.cacheDir, `${this.cacheDir}.new`, this.clientTemp]
  }

  // Settles with the call. A call that never settles (a hung service) leaves
  // the process pointed at our folder, so a late download can only land there.
  private async inWorkRoot<T>(call: () => Promise<T>): Promise<T> {
    const saved = { cwd: process.cwd(), temp: process.env.RUNNER_TEMP, workspace: process.env.GITHUB_WORKSPACE }
    await fs.promises.mkdir(this.clientTemp, { recursive: true })
    process.env.RUNNER_TEMP = this.clientTemp
    process.env.GITHUB_WORKSPACE = this.workRoot
    process.chdir(this.workRoot)
    try {
      return await call()
    } finally {
      process.chdir(saved.cwd)
      process.env.RUNNER_TEMP = saved.temp
      process.env.GITHUB_WORKSPACE = saved.workspace
      await removeDir(this.clientTemp)
    }
  }
}
