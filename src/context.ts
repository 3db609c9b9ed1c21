import * as github from '@actions/github'
import { printable } from './printable.js'

// What this run is (event, refs, default branch) and whether it may write the
// cache. The write decision rests on the event and the ref only: a branch name
// can be chosen by a fork, the ref of a push or a dispatch cannot.

export interface EventFacts {
  eventName: string
  /** GITHUB_REF, e.g. refs/heads/master or refs/pull/7/merge. */
  ref: string
  /** The event payload (GITHUB_EVENT_PATH), or {} when there is none. */
  payload: Record<string, unknown>
  /** GITHUB_HEAD_REF and GITHUB_BASE_REF, set for pull request events. */
  headRef?: string
  baseRef?: string
}

/** The facts of the running job, as the runner sets them. */
export function currentEventFacts(): EventFacts {
  return {
    eventName: github.context.eventName,
    ref: github.context.ref,
    payload: github.context.payload as Record<string, unknown>,
    headRef: process.env.GITHUB_HEAD_REF,
    baseRef: process.env.GITHUB_BASE_REF
  }
}

export interface RunContext {
  eventName: string
  ref: string
  /** The branch whose cache this run reads first. */
  branch: string
  /** The branch a pull request or a merge queue merges into. */
  baseBranch?: string
  defaultBranch: string
}

const FALLBACK_DEFAULT_BRANCH = 'master'
const WRITING_EVENTS = ['push', 'workflow_dispatch', 'schedule']
const PULL_REQUEST_EVENTS = ['pull_request', 'pull_request_target']

export function runContext(facts: EventFacts, defaultBranchInput: string): RunContext {
  const repository = facts.payload.repository as { default_branch?: unknown } | undefined
  const payloadDefault = typeof repository?.default_branch === 'string' ? repository.default_branch : ''
  const defaultBranch = defaultBranchInput || payloadDefault || FALLBACK_DEFAULT_BRANCH
  return {
    eventName: facts.eventName,
    ref: facts.ref,
    branch: branchOf(facts),
    baseBranch: baseBranchOf(facts),
    defaultBranch
  }
}

function branchOf(facts: EventFacts): string {
  if (PULL_REQUEST_EVENTS.includes(facts.eventName) && facts.headRef) return facts.headRef
  // Tags and other refs keep their full name so they can't pass for a branch.
  return facts.ref.startsWith('refs/heads/') ? facts.ref.slice('refs/heads/'.length) : facts.ref
}

function baseBranchOf(facts: EventFacts): string | undefined {
  if (PULL_REQUEST_EVENTS.includes(facts.eventName) && facts.baseRef) return facts.baseRef
  const mergeGroup = facts.payload.merge_group as { base_ref?: unknown } | undefined
  if (facts.eventName === 'merge_group' && typeof mergeGroup?.base_ref === 'string') {
    return mergeGroup.base_ref.replace(/^refs\/heads\//, '')
  }
  return undefined
}

export interface WriteDecision {
  allowed: boolean
  /** One line a user reads in the log: why the cache is or is not written. */
  reason: string
}

/** Why the post step won't save, whatever the build does; undefined if it may. */
export function saveSkipReason(decision: WriteDecision, exactHit: boolean, primaryKey: string, restoreTimedOut: boolean): string | undefined {
  if (!decision.allowed) return decision.reason
  if (exactHit) return `Cache hit occurred on the primary key ${primaryKey}, not saving cache.`
  if (restoreTimedOut) return 'the cache service did not answer the restore in time (restore-timeout), so a save would hang too.'
  return undefined
}

export function writeDecision(ctx: RunContext): WriteDecision {
  const defaultRef = `refs/heads/${ctx.defaultBranch}`
  if (PULL_REQUEST_EVENTS.includes(ctx.eventName)) {
    return deny(
      `${ctx.eventName} runs never write the cache: a pull request's entries are visible only to itself, and its code is not trusted to write for ${ctx.defaultBranch}.`
    )
  }
  if (ctx.eventName === 'workflow_run') {
    return deny('workflow_run runs never write the cache: they may be triggered by a fork.')
  }
  if (!WRITING_EVENTS.includes(ctx.eventName)) {
    return deny(
      `${ctx.eventName} runs do not write the cache; only ${WRITING_EVENTS.join(', ')} on ${defaultRef} do.`
    )
  }
  if (ctx.ref !== defaultRef) {
    return deny(`${printable(ctx.ref)} is not the default branch (${printable(defaultRef)}); only the default branch writes the cache.`)
  }
  return { allowed: true, reason: `${ctx.eventName} on ${defaultRef} writes the cache.` }
}

function deny(reason: string): WriteDecision {
  return { allowed: false, reason }
}
