import type { Runner } from '../github/runner.js'
import type { CacheStore, StoreConfig } from './store.js'
import { boundsFor } from './deadline.js'
import { GhaCacheStore } from './gha.js'
import { LocalCacheStore } from './local.js'
import { RegistryCacheStore } from './registry.js'

/**
 * `serveBlobs`: the build's builder reaches this runner's loopback interface,
 * so an entry of packs can be read by it during the build (gha/gha.ts).
 */
export function createStore(config: StoreConfig, runner: Pick<Runner, 'temp' | 'env'>, serveBlobs = false): CacheStore {
  switch (config.backend) {
    case 'local':
      return new LocalCacheStore(config.cacheRoot, config.jobId)
    case 'registry':
      return new RegistryCacheStore(config.cacheRef)
    case 'gha':
      return new GhaCacheStore(runner.temp, config.image, boundsFor(config.stallSeconds), runner.env, serveBlobs)
  }
}
