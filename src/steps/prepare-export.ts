import * as core from '@actions/core'
import type { CacheLocation, CacheStore } from '../cache/store.js'
import { pickBuilder, type BuilderFacts } from '../docker/builder.js'
import { describeSave, skipBecause, type SaveDecision } from './save-decision.js'
import { saveBuilderCleanup } from './step-state.js'

/** Where and with which builder a build exports, and whether its cache can still be saved. */
export interface ExportPlan {
  /** The decision given, unless exporting turned out impossible: then why nothing will be saved. */
  decision: SaveDecision
  /** Where the build exports; unset: it exports nothing. */
  location?: CacheLocation
  /** A builder other than the current one. */
  builder?: string
}

export interface ExportContext {
  store: CacheStore
  builder: BuilderFacts
  /** The create-builder input. */
  createBuilder: boolean
}

/**
 * Exporting costs time: it is set up only for a build whose cache will be
 * saved (the first build, or the refresh of a stale entry after it), and
 * otherwise only the builder is chosen.
 */
export async function prepareExport(decision: SaveDecision, context: ExportContext): Promise<ExportPlan> {
  const picked = await pickBuilder(context.builder, decision.save, context.createBuilder)
  if (picked.name) saveBuilderCleanup(picked.name)
  if (!decision.save) return { decision, builder: picked.name }
  if (picked.exportBlocked) return { decision: skipBecause({ kind: 'cannot-export' }), builder: picked.name }
  try {
    return { decision, location: await context.store.exportTo(), builder: picked.name }
  } catch (error) {
    const nowhere = skipBecause({ kind: 'nowhere-to-export', detail: (error as Error).message })
    core.warning(`Building without saving a cache: ${describeSave(nowhere)}`)
    return { decision: nowhere, builder: picked.name }
  }
}
