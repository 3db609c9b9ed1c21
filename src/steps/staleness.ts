import type { Restored } from '../cache/store.js'
import type { BuildOutcome } from '../docker/build.js'
import { sameContent, type KeyPlan } from '../key/key.js'

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
  built: Pick<BuildOutcome, 'steps' | 'retriedWithoutCache'>
): Staleness | undefined {
  if (!entry || !sameContent(plan, entry.matchedKey)) return undefined
  if (entry.problem !== undefined) return { kind: 'broken', problem: entry.problem }
  if (built.retriedWithoutCache) return { kind: 'broken', problem: 'the build could not import it' }
  if (built.steps.cached < built.steps.total)
    return { kind: 'rebuilt', cached: built.steps.cached, total: built.steps.total }
  return undefined
}
