import * as core from '@actions/core'
import { TimeoutError, within } from '../cache/deadline.js'
import type { CacheStore, Restored } from '../cache/store.js'
import type { KeyPlan } from '../key/key.js'

export interface RestoreOutcome {
  restored?: Restored
  seconds: number
  timedOut: boolean
}

/** Restores within the user's bound; past it the build goes on without a cache. */
export async function restore(store: CacheStore, plan: KeyPlan, timeoutSeconds: number): Promise<RestoreOutcome> {
  core.info(`Restore keys: ${[`${plan.lookup} (exact)`, ...plan.restoreKeys.map(r => `${r.key} (${r.source})`)].join(', ')}`)
  const started = Date.now()
  const elapsed = (): number => (Date.now() - started) / 1000
  try {
    const restored = await within(timeoutSeconds, 'The cache restore', store.restore(plan))
    if (restored && !restored.problem) core.info(`Cache restored from key: ${restored.matchedKey}`)
    else if (!restored) core.info(`Cache not found for input keys: ${[plan.lookup, ...plan.restoreKeys.map(r => r.key)].join(', ')}`)
    return { restored, seconds: elapsed(), timedOut: false }
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error
    core.warning(`${error.message} (restore-timeout); building without a cache.`)
    return { seconds: elapsed(), timedOut: true }
  }
}
