import type { CacheStore } from './cache.js'
import type { CacheBackendName } from './constants.js'
import { GhaCacheStore } from './gha-cache.js'
import { LocalCacheStore } from './local-cache.js'

export function createStore(backend: CacheBackendName, image: string, cacheRoot: string): CacheStore {
  if (backend === 'local') return new LocalCacheStore(cacheRoot)
  return new GhaCacheStore(runnerTemp(), image)
}

export function runnerTemp(): string {
  const temp = process.env.RUNNER_TEMP
  if (!temp) throw new Error('RUNNER_TEMP is not set; the action must run in a GitHub Actions job.')
  return temp
}
