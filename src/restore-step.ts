import * as core from '@actions/core'
import { TimeoutError, within, type CacheStore, type Restored } from './cache.js'
import type { ImageHash } from './hash.js'
import type { KeyPlan } from './key.js'
import { printable } from './printable.js'

const FILES_SHOWN = 200

/** What went into the key, so a user can see why two runs got different keys. */
export function logHashInputs(hashed: ImageHash): void {
  core.info(`Hashing ${printable(hashed.origin)}`)
  for (const file of hashed.files.slice(0, FILES_SHOWN)) core.info(`  ${file.digest.slice(0, 13)}  ${printable(file.path)}`)
  if (hashed.files.length > FILES_SHOWN) core.info(`  ... and ${hashed.files.length - FILES_SHOWN} more files`)
  for (const setting of hashed.settings) core.info(`  ${setting}`)
  core.info(`Hash: ${hashed.hash}`)
}

export interface RestoreOutcome {
  restored?: Restored
  seconds: number
  timedOut: boolean
}

/** Restores within the user's bound; past it the build goes on without a cache. */
export async function restore(store: CacheStore, plan: KeyPlan, timeoutSeconds: number): Promise<RestoreOutcome> {
  const keys = [plan.primary, ...plan.restoreKeys.map(r => r.key)]
  core.info(`Restore keys: ${plan.restoreKeys.map(r => `${r.key} (${r.source})`).join(', ')}`)
  const started = Date.now()
  const elapsed = (): number => (Date.now() - started) / 1000
  try {
    const restored = await within(timeoutSeconds, 'The cache restore', store.restore(plan.primary, keys.slice(1)))
    if (restored) core.info(`Cache restored from key: ${restored.matchedKey}`)
    else core.info(`Cache not found for input keys: ${keys.join(', ')}`)
    return { restored, seconds: elapsed(), timedOut: false }
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error
    core.warning(`${error.message} (restore-timeout); building without a cache.`)
    return { seconds: elapsed(), timedOut: true }
  }
}
