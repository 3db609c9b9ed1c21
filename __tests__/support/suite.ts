// What an end-to-end test file sets up around all its tests.
import { afterAll, beforeAll } from '@jest/globals'
import { startCacheService, type CacheService, type CacheServiceOptions } from './cache-service.js'

/**
 * The file's cache service: started before its first test, closed after its
 * last. Called at the top of the file; the service it returns answers from
 * the first hook on, as the running one.
 */
export function cacheServiceForFile(options: CacheServiceOptions = {}): CacheService {
  let running: CacheService | undefined
  beforeAll(async () => {
    running = await startCacheService(options)
  })
  afterAll(async () => {
    await running?.close()
  })
  const current = (): CacheService => {
    if (!running)
      throw new Error('The cache service starts in beforeAll: use it in a hook or a test, not while the file loads.')
    return running
  }
  return {
    get url() {
      return current().url
    },
    get requests() {
      return current().requests
    },
    close: () => current().close(),
    entries: () => current().entries(),
    storedBytes: () => current().storedBytes(),
    traffic: () => current().traffic(),
    setFault: fault => current().setFault(fault),
    env: token => current().env(token)
  }
}
