import type { Restored } from '../cache/store.js'
import type { CacheSource } from '../constants.js'
import type { WriteDecision, WriteDenial } from '../github/write-policy.js'
import { sameContent, type KeyPlan } from '../key/key.js'
import { megabytes } from '../megabytes.js'
import { printable } from '../printable.js'

/** Why this run saves: a new content key, or an entry of this content that must be replaced. */
export type SaveWhy =
  | { kind: 'new-content' }
  /** The entry of this content left steps to rebuild (a base image moved, say). */
  | { kind: 'stale'; cached: number; total: number }
  /** The entry of this content could not be imported. */
  | { kind: 'broken'; problem: string }
  /** `no-cache`: nothing was restored, and what was built from scratch replaces any entry of this content. */
  | { kind: 'no-cache' }
  /** The build failed: the steps it finished are saved under `key`, a partial content key (steps/progress.ts). */
  | { kind: 'progress'; key: string; steps: number; failedStep: string }

/** Why this run does not save. */
export type SaveSkip =
  | { kind: 'denied'; denial: WriteDenial }
  | { kind: 'exact-hit'; key: string }
  | { kind: 'restore-timed-out' }
  | { kind: 'cannot-export' }
  | { kind: 'nowhere-to-export'; detail: string }
  | { kind: 'build-failed' }
  | { kind: 'too-large'; sizeBytes: number; limitBytes: number }
  | { kind: 'export-failed'; problem: string }

export type SaveDecision = { save: true; why: SaveWhy } | { save: false; skip: SaveSkip }

export const saveBecause = (why: SaveWhy): SaveDecision => ({ save: true, why })
export const skipBecause = (reason: SaveSkip): SaveDecision => ({ save: false, skip: reason })

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
  // The engine's image was built for this very key, by a run that saved it if it could.
  if (source === 'exact' || source === 'engine') return skipBecause({ kind: 'exact-hit', key: plan.content })
  return saveBecause({ kind: 'new-content' })
}

/** The one line the log and the summary give for a decision. */
export function describeSave(decision: SaveDecision): string {
  return decision.save ? describeWhy(decision.why) : describeSkip(decision.skip)
}

function describeWhy(why: SaveWhy): string {
  switch (why.kind) {
    case 'new-content':
      return 'no entry holds this content yet.'
    case 'stale':
      return `the entry of this content left ${why.total - why.cached} of ${why.total} steps to rebuild; the new cache replaces it.`
    case 'broken':
      return `the entry of this content could not be imported (${why.problem}); the new cache replaces it.`
    case 'no-cache':
      return 'no-cache is set: the cache of this fresh build replaces any entry of this content.'
    case 'progress':
      return `the build failed, but ${why.steps === 1 ? '1 step' : `${why.steps} steps`} finished before \`${printable(why.failedStep)}\`: ${why.steps === 1 ? 'it is' : 'they are'} saved as a partial entry, which the next run of this branch restores.`
  }
}

function describeSkip(skip: SaveSkip): string {
  switch (skip.kind) {
    case 'denied':
      return describeDenial(skip.denial)
    case 'exact-hit':
      return `Cache hit occurred on the primary key ${skip.key}, not saving cache.`
    case 'restore-timed-out':
      return 'the restore was given up on (see the warning above), and a save would likely be too.'
    case 'cannot-export':
      return 'the builder cannot export a local cache (see the warning above).'
    case 'nowhere-to-export':
      return `there is nowhere to export the new cache: ${skip.detail}`
    case 'build-failed':
      return 'the build failed.'
    case 'too-large':
      return `the new cache is ${megabytes(skip.sizeBytes)}, above max-cache-size (${megabytes(skip.limitBytes)}).`
    case 'export-failed':
      return `the build could not export a complete cache (${skip.problem}).`
  }
}

export function describeDenial(denial: WriteDenial): string {
  const writers = (names: string[]): string => names.map(n => `refs/heads/${printable(n)}`).join(', ')
  switch (denial.kind) {
    case 'pull-request':
      return `${denial.event} runs never write the cache: a pull request's entries are visible only to itself, and its code is not trusted to write for ${printable(denial.defaultBranch)}.`
    case 'untrusted-trigger':
      return `${denial.event} runs never write the cache: they may be triggered by a fork.`
    case 'event':
      return `${printable(denial.event)} runs do not write the cache; only push, workflow_dispatch and schedule on ${writers(denial.writers)} do.`
    case 'branch':
      return `${printable(denial.ref)} is not a branch that writes the cache (${writers(denial.writers)}; see save-branches).`
  }
}
