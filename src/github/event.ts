import * as github from '@actions/github'
import type { Runner } from './runner.js'

// What this run is: its event, its refs, and the branch whose cache it reads
// first. A pull request is known by its number, never by its head branch,
// whose name the author chooses.

export interface EventFacts {
  eventName: string
  /** GITHUB_REF, e.g. refs/heads/master or refs/pull/7/merge. */
  ref: string
  /** The event payload (GITHUB_EVENT_PATH), or {} when there is none. */
  payload: Record<string, unknown>
  /** GITHUB_HEAD_REF and GITHUB_BASE_REF, set for pull request events. The head is the author's choice: never part of a key. */
  headRef?: string
  baseRef?: string
  /** GITHUB_REPOSITORY (owner/name) and GITHUB_API_URL: where to ask what the payload does not say. */
  repository?: string
  apiUrl?: string
}

/** The facts of the running job, as the runner sets them. */
export function currentEventFacts(runner: Runner): EventFacts {
  return {
    eventName: github.context.eventName,
    ref: github.context.ref,
    payload: github.context.payload as Record<string, unknown>,
    headRef: runner.headRef,
    baseRef: runner.baseRef,
    repository: runner.repository,
    apiUrl: runner.apiUrl
  }
}

export interface RunContext {
  eventName: string
  ref: string
  /** The branch whose cache this run reads first; for a pull request `pull/<number>`. */
  branch: string
  /** The branch a pull request or a merge queue merges into. */
  baseBranch?: string
  defaultBranch: string
  /** Branch names or globs whose push-like runs write; empty: the default branch alone. */
  saveBranches: string[]
}

const PULL_REQUEST_EVENTS = ['pull_request', 'pull_request_target']

/** pull_request and pull_request_target: the code comes from a branch its author names. */
export function isPullRequestEvent(eventName: string): boolean {
  return PULL_REQUEST_EVENTS.includes(eventName)
}

/** Pure: the run, given the default branch's name (see default-branch.ts). */
export function runContext(facts: EventFacts, defaultBranch: string, saveBranches: string[] = []): RunContext {
  return {
    eventName: facts.eventName,
    ref: facts.ref,
    branch: branchOf(facts),
    baseBranch: baseBranchOf(facts),
    defaultBranch,
    saveBranches
  }
}

function branchOf(facts: EventFacts): string {
  if (isPullRequestEvent(facts.eventName)) return pullRequestScope(facts)
  // Tags and other refs keep their full name so they can't pass for a branch.
  return facts.ref.startsWith('refs/heads/') ? facts.ref.slice('refs/heads/'.length) : facts.ref
}

/**
 * A pull request's part of the key: `pull/<number>`, never its head branch,
 * whose name the author chooses (a fork's `master` would otherwise build the
 * default branch's own key and report an exact hit). The number comes from
 * the merge ref, or for pull_request_target (which runs on the base branch's
 * ref) from the payload GitHub writes.
 */
function pullRequestScope(facts: EventFacts): string {
  const fromRef = /^refs\/pull\/(\d+)\//.exec(facts.ref)?.[1]
  const pr = facts.payload.pull_request as { number?: unknown } | undefined
  const fromPayload = [pr?.number, facts.payload.number].find(
    n => typeof n === 'number' && Number.isSafeInteger(n) && n > 0
  )
  const number = fromRef ?? (fromPayload === undefined ? undefined : String(fromPayload))
  // Without a number the ref stays whole, as a tag's does: no branch's part of a key looks like it.
  return number === undefined ? facts.ref : `pull/${number}`
}

function baseBranchOf(facts: EventFacts): string | undefined {
  if (isPullRequestEvent(facts.eventName) && facts.baseRef) return facts.baseRef
  const mergeGroup = facts.payload.merge_group as { base_ref?: unknown } | undefined
  if (facts.eventName === 'merge_group' && typeof mergeGroup?.base_ref === 'string') {
    return mergeGroup.base_ref.replace(/^refs\/heads\//, '')
  }
  return undefined
}
