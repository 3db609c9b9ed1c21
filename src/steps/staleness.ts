import type { Restored } from '../cache/store.js'
import type { CacheSource } from '../constants.js'
import type { Built } from '../docker/build.js'
import type { WriteDecision } from '../github/write-policy.js'
import { sameContent, type KeyPlan } from '../key/key.js'
import { saveBecause, skipBecause, type SaveDecision } from './save-decision.js'

// What a cache is worth is what the build reused. An entry saved for this
// very content should leave nothing to rebuild; when it does (a base image
// moved upstream, a layer went missing), the key alone would keep serving it
// for ever, so such an entry is stale and the next run that may write
// replaces it.

export type Staleness = { kind: 'rebuilt'; cached: number; total: number } | { kind: 'broken'; problem: string }

/** Whether the restored entry of this content served the build in full; undefined when it did, or was of other content. */
export function staleness(
  plan: KeyPlan,
  entry: Restored | undefined,
  built: Pick<Built, 'steps' | 'retriedWithoutCache'>
): Staleness | undefined {
  if (!entry || !sameContent(plan, entry.matchedKey)) return undefined
  if (entry.problem !== undefined) return { kind: 'broken', problem: entry.problem }
  if (built.retriedWithoutCache) return { kind: 'broken', problem: 'the build could not import it' }
  if (built.steps.cached < built.steps.total)
    return { kind: 'rebuilt', cached: built.steps.cached, total: built.steps.total }
  return undefined
}

export interface BeforeBuild {
  write: WriteDecision
  plan: KeyPlan
  source: CacheSource
  entry: Restored | undefined
  restoreTimedOut: boolean
}

/**
 * Whether the build should export for a save, decided before it runs. An
 * exact hit exports nothing: the common case stays free, and only a build
 * that turns out to have rebuilt steps pays for a second, export-only call.
 */
export function plannedSave({ write, plan, source, entry, restoreTimedOut }: BeforeBuild): SaveDecision {
  if (!write.allowed) return skipBecause({ kind: 'denied', denial: write.denial })
  if (restoreTimedOut) return skipBecause({ kind: 'restore-timed-out' })
  if (entry?.problem !== undefined && sameContent(plan, entry.matchedKey))
    return saveBecause({ kind: 'broken', problem: entry.problem })
  if (source === 'exact') return skipBecause({ kind: 'exact-hit', key: plan.content })
  return saveBecause({ kind: 'new-content' })
}
