import * as core from '@actions/core'
import type { CacheStore, Restored } from '../cache/store.js'
import { engineImage, type EngineImage } from '../docker/engine-image.js'
import type { KeyPlan } from '../key/key.js'
import { hardLimit, TimeoutError, untilAborted } from '../time-limit.js'

export interface RestoreOutcome {
  restored?: Restored
  seconds: number
  /** The service stopped answering, or the restore ran past restore-timeout: the build went on without it. */
  timedOut: boolean
  /** Nothing was restored: the engine holds the image of this key, and the builder its cache (`restored` names the key). */
  fromEngine?: boolean
}

/** The image this run builds, and the builder it runs on when it uses the current one. */
export interface EngineCheck {
  tag: string
  /** Unset: the builder is unknown, and the engine is not asked. */
  builder?: string
}

/**
 * On a runner whose engine still holds what this key built, the restore is
 * skipped: the build takes its steps from the builder's own cache. Otherwise
 * (an ephemeral runner, another key, an engine that cannot be asked) the
 * store restores as usual.
 */
export async function restoreOrReuse(
  store: CacheStore,
  plan: KeyPlan,
  capSeconds: number | undefined,
  engine: EngineCheck
): Promise<RestoreOutcome> {
  const started = Date.now()
  if (engine.builder !== undefined) {
    const found = await engineImage(engine.tag, { key: plan.content, builder: engine.builder })
    core.info(engineWords(found, engine))
    if (found.kind === 'holds')
      return {
        restored: { matchedKey: found.key, from: [], sizeBytes: 0 },
        seconds: (Date.now() - started) / 1000,
        timedOut: false,
        fromEngine: true
      }
  }
  return restore(store, plan, capSeconds)
}

function engineWords(found: EngineImage, engine: EngineCheck): string {
  switch (found.kind) {
    case 'holds':
      return `The engine holds ${engine.tag}, built for this key (${found.key}) on builder ${engine.builder}: nothing is restored, the build uses that builder's own cache.`
    case 'other-key':
      return `The engine's ${engine.tag} was built for ${found.key}, not for this key on builder ${engine.builder}: restoring.`
    case 'unlabelled':
      return `The engine's ${engine.tag} does not say which key it was built for: restoring.`
    case 'absent':
      return `The engine holds no image ${engine.tag}: restoring.`
  }
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
