import type { CacheStore, StoreConfig } from './store.js'
import { boundsFor } from './deadline.js'
import { GhaCacheStore } from './gha.js'
import { LocalCacheStore } from './local.js'

export function createStore(config: StoreConfig, runnerTemp: string): CacheStore {
  if (config.backend === 'local') return new LocalCacheStore(config.cacheRoot, config.jobId)
  return new GhaCacheStore(runnerTemp, config.image, boundsFor(config.stallSeconds))
}
