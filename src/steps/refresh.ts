import * as core from '@actions/core'
import type { Restored } from '../cache/store.js'
import { build, type BuildOutcome } from '../docker/build.js'
import type { Inputs } from '../inputs.js'
import { prepareExport, type ExportContext, type ExportPlan } from './prepare-export.js'
import { saveBecause, skipBecause, type SaveDecision } from './save-decision.js'
import type { Staleness } from './staleness.js'

// A stale entry of this content, found once the build has run: said plainly,
// and replaced by this run when it may write. Only an exact hit exported
// nothing during the build; it exports now, in a second, export-only build.

export interface RefreshContext extends ExportContext {
  inputs: Inputs
  /** The branches whose push-like runs write, named to say who refreshes the entry instead. */
  writers: string[]
  /** The entry restored for the first build, and what that build came to. */
  entry: Restored | undefined
  built: BuildOutcome
  workDir: string
  /** The step's environment, which the build runs in. */
  env: Record<string, string>
}

export interface Refreshed {
  decision: SaveDecision
  /** What buildx printed when the refresh's own export failed (it is told to ignore export errors). */
  exportError?: string
  /** Where and on which builder the refresh exported, when it did. */
  exporting?: ExportPlan
}

export async function refreshIfDue(
  decision: SaveDecision,
  stale: Staleness,
  context: RefreshContext
): Promise<Refreshed> {
  const what =
    stale.kind === 'broken'
      ? `the restored entry could not be used (${stale.problem})`
      : `the cache matched but ${stale.total - stale.cached} of ${stale.total} steps were rebuilt (a base image may have moved)`
  if (decision.save) {
    core.notice(`${capitalize(what)}; this run saves a fresh entry.`)
    return { decision }
  }
  if (decision.skip.kind !== 'exact-hit') {
    core.notice(
      `${capitalize(what)}; the next run that may write (push, schedule or workflow_dispatch on ${context.writers.join(', ')}) refreshes it.`
    )
    return { decision }
  }
  return refresh(stale, capitalize(what), context)
}

// Everything the build made is in the builder by now: exporting it is a
// second build whose steps are all cached. A builder that cannot export
// (the docker driver on the classic image store) gets a docker-container
// builder, which has none of it and rebuilds what the cache does not hold.
async function refresh(stale: Staleness, what: string, context: RefreshContext): Promise<Refreshed> {
  const exporting = await prepareExport(
    saveBecause(stale.kind === 'broken' ? stale : { kind: 'stale', cached: stale.cached, total: stale.total }),
    context
  )
  if (!exporting.decision.save) {
    core.notice(`${what}; this run cannot refresh it (see the warning above).`)
    return { decision: exporting.decision }
  }
  core.notice(`${what}; refreshing the entry.`)
  const from = context.built.retriedWithoutCache ? [] : (context.entry?.from ?? [])
  try {
    const exportBuild = await core.group('Export the refreshed cache', () =>
      build(
        context.inputs,
        { from, to: exporting.location },
        { builder: exporting.builder, output: 'cache' },
        context.workDir,
        context.env
      )
    )
    return { decision: exporting.decision, exportError: exportBuild.cacheExportError, exporting }
  } catch (error) {
    core.warning(`Could not export the refreshed cache, so the stale entry stays: ${(error as Error).message}`)
    return { decision: skipBecause({ kind: 'build-failed' }) }
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
