import * as core from '@actions/core'
import * as github from '@actions/github'
import * as path from 'node:path'
import { printable } from '../printable.js'

// What this run is (event, refs, default branch) and whether it may write the
// cache. The write decision rests on the event and the ref only: a branch name
// can be chosen by a fork, the ref of a push or a dispatch cannot.

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
export function currentEventFacts(): EventFacts {
  return {
    eventName: github.context.eventName,
    ref: github.context.ref,
    payload: github.context.payload as Record<string, unknown>,
    headRef: process.env.GITHUB_HEAD_REF,
    baseRef: process.env.GITHUB_BASE_REF,
    repository: process.env.GITHUB_REPOSITORY,
    apiUrl: process.env.GITHUB_API_URL
  }
}

/** Where the default branch's name came from: said in the log, so a wrong one can be traced. */
export type DefaultBranchSource =
  | { kind: 'input' }
  | { kind: 'payload' }
  /** GitHub runs a schedule on the default branch, and its payload holds nothing but the cron line. */
  | { kind: 'schedule-ref' }
  | { kind: 'rest-api' }
  | { kind: 'fallback'; why: string }

export interface DefaultBranch {
  name: string
  source: DefaultBranchSource
}

const FALLBACK_DEFAULT_BRANCH = 'master'
const LOOKUP_TIMEOUT_SECONDS = 10

/** The default branch as the run itself tells it, without asking anyone; undefined when it does not. */
export function knownDefaultBranch(facts: EventFacts, input: string): DefaultBranch | undefined {
  if (input) return { name: input, source: { kind: 'input' } }
  const repository = facts.payload.repository as { default_branch?: unknown } | undefined
  if (typeof repository?.default_branch === 'string' && repository.default_branch !== '') {
    return { name: repository.default_branch, source: { kind: 'payload' } }
  }
  if (facts.eventName === 'schedule' && facts.ref.startsWith('refs/heads/')) {
    return { name: facts.ref.slice('refs/heads/'.length), source: { kind: 'schedule-ref' } }
  }
  return undefined
}

export type AskDefaultBranch = (facts: EventFacts, token: string) => Promise<string>

/**
 * The default branch: from the input, the payload or a schedule's ref, else
 * from the REST API, else master with a warning. Never throws: a wrong guess
 * costs saves, never the job.
 */
export async function resolveDefaultBranch(
  facts: EventFacts,
  input: string,
  token: string,
  ask: AskDefaultBranch = askDefaultBranch
): Promise<DefaultBranch> {
  const found = knownDefaultBranch(facts, input) ?? (await fromApi(facts, token, ask))
  if (found.source.kind === 'fallback') {
    core.warning(
      `Could not learn the repository's default branch (${found.source.why}); assuming ${found.name}. ` +
        'Set `default-branch`, or give `github-token` read access to the repository.'
    )
  } else {
    core.info(`Default branch: ${printable(found.name)} (${describeSource(found.source)})`)
  }
  return found
}

async function fromApi(facts: EventFacts, token: string, ask: AskDefaultBranch): Promise<DefaultBranch> {
  const fallback = (why: string): DefaultBranch => ({
    name: FALLBACK_DEFAULT_BRANCH,
    source: { kind: 'fallback', why }
  })
  if (!token) return fallback('the event does not name it and there is no github-token to ask the REST API with')
  try {
    return { name: await ask(facts, token), source: { kind: 'rest-api' } }
  } catch (error) {
    return fallback(
      `the event does not name it and the REST API did not answer: ${firstLine((error as Error).message)}`
    )
  }
}

function describeSource(source: DefaultBranchSource): string {
  switch (source.kind) {
    case 'input':
      return 'from the default-branch input'
    case 'payload':
      return 'from the event payload'
    case 'schedule-ref':
      return 'a schedule runs on the default branch: from GITHUB_REF'
    case 'rest-api':
      return 'from the REST API: the event payload does not name it'
    case 'fallback':
      return `assumed: ${source.why}`
  }
}

/** GET /repos/{owner}/{repo} with the token, within a few seconds; throws when there is no answer. */
export async function askDefaultBranch(facts: EventFacts, token: string): Promise<string> {
  const [owner, repo, extra] = (facts.repository ?? '').split('/')
  if (!owner || !repo || extra !== undefined)
    throw new Error(`GITHUB_REPOSITORY is not owner/name ("${facts.repository ?? ''}")`)
  const deadline = AbortSignal.timeout(LOOKUP_TIMEOUT_SECONDS * 1000)
  const octokit = github.getOctokit(token, facts.apiUrl ? { baseUrl: facts.apiUrl } : {})
  try {
    const response = await octokit.request('GET /repos/{owner}/{repo}', { owner, repo, request: { signal: deadline } })
    const name = (response.data as { default_branch?: unknown }).default_branch
    if (typeof name !== 'string' || name === '') throw new Error('the answer has no default_branch')
    return name
  } catch (error) {
    if (deadline.aborted) throw new Error(`no answer within ${LOOKUP_TIMEOUT_SECONDS} s`)
    throw error
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? ''
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

const WRITING_EVENTS = ['push', 'workflow_dispatch', 'schedule']
const PULL_REQUEST_EVENTS = ['pull_request', 'pull_request_target']

/** Pure: the run, given the default branch's name (see resolveDefaultBranch). */
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
  if (PULL_REQUEST_EVENTS.includes(facts.eventName)) return pullRequestScope(facts)
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
