import * as github from '@actions/github'
import * as path from 'node:path'

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
  /** Branch names or globs whose push-like runs write; empty: the default branch alone. */
  saveBranches: string[]
}

const FALLBACK_DEFAULT_BRANCH = 'master'
const WRITING_EVENTS = ['push', 'workflow_dispatch', 'schedule']
const PULL_REQUEST_EVENTS = ['pull_request', 'pull_request_target']

export function runContext(facts: EventFacts, defaultBranchInput: string, saveBranches: string[] = []): RunContext {
  const repository = facts.payload.repository as { default_branch?: unknown } | undefined
  const payloadDefault = typeof repository?.default_branch === 'string' ? repository.default_branch : ''
  const defaultBranch = defaultBranchInput || payloadDefault || FALLBACK_DEFAULT_BRANCH
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

/** Why a run may not write, whatever its build does. */
export type WriteDenial =
  | { kind: 'pull-request'; event: string; defaultBranch: string }
  | { kind: 'untrusted-trigger'; event: string }
  | { kind: 'event'; event: string; writers: string[] }
  | { kind: 'branch'; ref: string; writers: string[] }

export type WriteDecision = { allowed: true; event: string; ref: string } | { allowed: false; denial: WriteDenial }

/** The branches that write: the default branch unless save-branches names others. */
export function writerBranches(ctx: RunContext): string[] {
  return ctx.saveBranches.length > 0 ? ctx.saveBranches : [ctx.defaultBranch]
}

export function writeDecision(ctx: RunContext): WriteDecision {
  const writers = writerBranches(ctx)
  if (PULL_REQUEST_EVENTS.includes(ctx.eventName)) {
    return deny({ kind: 'pull-request', event: ctx.eventName, defaultBranch: ctx.defaultBranch })
  }
  if (ctx.eventName === 'workflow_run') return deny({ kind: 'untrusted-trigger', event: ctx.eventName })
  if (!WRITING_EVENTS.includes(ctx.eventName)) return deny({ kind: 'event', event: ctx.eventName, writers })
  // The ref, not a branch name from the payload: a fork chooses its branch
  // names, never the ref a push or a dispatch runs on.
  const branch = ctx.ref.startsWith('refs/heads/') ? ctx.ref.slice('refs/heads/'.length) : undefined
  if (branch === undefined || !writers.some(pattern => branchMatches(branch, pattern))) {
    return deny({ kind: 'branch', ref: ctx.ref, writers })
  }
  return { allowed: true, event: ctx.eventName, ref: ctx.ref }
}

/** A name, or a glob whose `*` stays within a path segment and `**` crosses them (`release/*`). */
export function branchMatches(branch: string, pattern: string): boolean {
  return branch === pattern || (/[*?[]/.test(pattern) && path.posix.matchesGlob(branch, pattern))
}

function deny(denial: WriteDenial): WriteDecision {
  return { allowed: false, denial }
}

export const WRITE_EVENTS: readonly string[] = WRITING_EVENTS
