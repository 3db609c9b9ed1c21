// What an end-to-end test file sets up around all its tests.
import { afterAll, beforeAll } from '@jest/globals'
import { startCacheService, type CacheService } from './cache-service.js'

/**
 * The file's cache service: started before its first test, closed after its
 * last. Called at the top of the file; the service it returns answers from
 * the first hook on, as the running one.
 */
export function cacheServiceForFile(): CacheService {
  let running: CacheService | undefined
  beforeAll(async () => {
    running = await startCacheService()
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
    setFault: fault => current().setFault(fault),
    env: token => current().env(token)
  }
}
