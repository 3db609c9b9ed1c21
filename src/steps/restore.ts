import * as core from '@actions/core'
import type { CacheStore, Restored } from '../cache/store.js'
import type { KeyPlan } from '../key/key.js'
import { hardLimit, TimeoutError, untilAborted } from '../time-limit.js'

export interface RestoreOutcome {
  restored?: Restored
  seconds: number
  /** The service stopped answering, or the restore ran past restore-timeout: the build went on without it. */
  timedOut: boolean
}

/**
 * Restores for as long as the service answers and the download moves, and
 * within `capSeconds` when the user set restore-timeout; past either the
 * build goes on without a cache.
 */
export async function restore(
  store: CacheStore,
  plan: KeyPlan,
  capSeconds: number | undefined
): Promise<RestoreOutcome> {
  core.info(
    `Restore keys: ${[`${plan.lookup} (exact)`, ...plan.restoreKeys.map(r => `${r.key} (${r.source})`)].join(', ')}`
  )
  const started = Date.now()
  const elapsed = (): number => (Date.now() - started) / 1000
  try {
    const cap = hardLimit(capSeconds, `The cache restore did not finish within ${capSeconds} s (restore-timeout)`)
    const restored = await untilAborted(store.restore(plan, cap), cap)
    if (restored && !restored.problem) core.info(`Cache restored from key: ${restored.matchedKey}`)
    else if (!restored)
      core.info(`Cache not found for input keys: ${[plan.lookup, ...plan.restoreKeys.map(r => r.key)].join(', ')}`)
    return { restored, seconds: elapsed(), timedOut: false }
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error
    core.warning(`${error.message}; building without a cache.`)
    return { seconds: elapsed(), timedOut: true }
  }
}
