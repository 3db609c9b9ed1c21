import * as path from 'node:path'
import { isPullRequestEvent, type RunContext } from './event.js'

// Who may write the cache. The decision rests on the event and the ref only:
// a branch name can be chosen by a fork, the ref of a push or a dispatch cannot.

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

const WRITING_EVENTS = ['push', 'workflow_dispatch', 'schedule']

export function writeDecision(ctx: RunContext): WriteDecision {
  const writers = writerBranches(ctx)
  if (isPullRequestEvent(ctx.eventName)) {
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
