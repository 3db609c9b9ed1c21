// Who may save, as one table: the event and the ref a run has, the default
// branch and save-branches it is given, and whether it may write the cache
// (and, where a row is about it, why not). The same policy holds for every
// backend: the store is never asked.
import { describe, expect, it } from '@jest/globals'
import { knownDefaultBranch } from '../../../src/github/default-branch.js'
import { runContext, type EventFacts } from '../../../src/github/event.js'
import { writeDecision, type WriteDecision, type WriteDenial } from '../../../src/github/write-policy.js'

const facts = (over: Partial<EventFacts>): EventFacts => ({
  eventName: 'push',
  ref: 'refs/heads/main',
  payload: { repository: { default_branch: 'main' } },
  ...over
})

// What GitHub writes to GITHUB_EVENT_PATH for a scheduled run: the cron line, nothing else.
const SCHEDULE_PAYLOAD = { schedule: '0 3 * * *' }

interface Row {
  name: string
  run: Partial<EventFacts>
  /** The default branch the run was told of; `main` unless given, or learnt from the event. */
  defaultBranch?: string | ((run: EventFacts) => string)
  saveBranches?: string[]
  allowed: boolean
  /** The whole decision, where the row is about its typed denial. */
  decision?: WriteDecision
  /** The kind of denial, where the row is about it. */
  denial?: WriteDenial['kind']
}

const pullRequest = (headRef: string, baseRef: string, number = 1): Partial<EventFacts> => ({
  eventName: 'pull_request',
  ref: `refs/pull/${number}/merge`,
  headRef,
  baseRef
})
const releases = ['master', 'beta', 'release/*']

const rows: Row[] = [
  // The default branch writes, on push-like events only.
  { name: 'push to the default branch', run: {}, allowed: true },
  { name: 'workflow_dispatch on the default branch', run: { eventName: 'workflow_dispatch' }, allowed: true },
  { name: 'schedule on the default branch', run: { eventName: 'schedule', payload: SCHEDULE_PAYLOAD }, allowed: true },
  { name: 'push to another branch', run: { ref: 'refs/heads/feature' }, allowed: false },
  { name: 'push of a tag named like the default branch', run: { ref: 'refs/tags/main' }, allowed: false },
  {
    name: 'workflow_dispatch on another branch',
    run: { eventName: 'workflow_dispatch', ref: 'refs/heads/feature' },
    allowed: false
  },
  { name: 'pull_request', run: pullRequest('feature', 'main'), allowed: false },
  { name: 'pull_request from a fork whose head is named main', run: pullRequest('main', 'main', 2), allowed: false },
  {
    name: 'pull_request_target (runs on the default branch)',
    run: { eventName: 'pull_request_target', headRef: 'main', baseRef: 'main' },
    allowed: false
  },
  { name: 'workflow_run on the default branch', run: { eventName: 'workflow_run' }, allowed: false },
  {
    name: 'merge_group',
    run: { eventName: 'merge_group', ref: 'refs/heads/gh-readonly-queue/main/pr-1-abc' },
    allowed: false
  },
  { name: 'issue_comment on the default branch', run: { eventName: 'issue_comment' }, allowed: false },
  {
    name: 'schedule on a default branch other than master, learnt from the payload GitHub sends',
    run: { eventName: 'schedule', payload: SCHEDULE_PAYLOAD },
    defaultBranch: run => knownDefaultBranch(run, '')?.name ?? 'master',
    allowed: true
  },
  // The default branch it is given, not the branch name alone.
  { name: 'push to main when the default branch is trunk', run: {}, defaultBranch: 'trunk', allowed: false },
  {
    name: 'push to trunk when the default branch is trunk',
    run: { ref: 'refs/heads/trunk' },
    defaultBranch: 'trunk',
    allowed: true
  },
  // Why not, as a typed denial.
  {
    name: 'push to a feature branch, denied as a branch that does not write',
    run: { ref: 'refs/heads/feature' },
    allowed: false,
    decision: { allowed: false, denial: { kind: 'branch', ref: 'refs/heads/feature', writers: ['main'] } }
  },
  {
    name: 'pull_request with head and base named main, denied as a pull request',
    run: pullRequest('main', 'main'),
    allowed: false,
    denial: 'pull-request'
  },
  // save-branches replaces the default branch as the writer, for push-like runs on the branches it lists.
  {
    name: 'save-branches: push to a listed branch',
    run: { ref: 'refs/heads/beta' },
    saveBranches: releases,
    allowed: true
  },
  {
    name: 'save-branches: push to a branch a glob lists',
    run: { ref: 'refs/heads/release/1.80' },
    saveBranches: releases,
    allowed: true
  },
  {
    name: 'save-branches: schedule on a branch not listed',
    run: { eventName: 'schedule', ref: 'refs/heads/schedule-me' },
    saveBranches: releases,
    allowed: false
  },
  {
    name: 'save-branches: workflow_dispatch on a listed branch',
    run: { eventName: 'workflow_dispatch', ref: 'refs/heads/beta' },
    saveBranches: releases,
    allowed: true
  },
  {
    name: 'save-branches: push to a branch not listed',
    run: { ref: 'refs/heads/feature' },
    saveBranches: releases,
    allowed: false
  },
  {
    name: "save-branches: push to a branch below a glob's segment",
    run: { ref: 'refs/heads/release/1.80/x' },
    saveBranches: releases,
    allowed: false
  },
  {
    name: 'save-branches set: push to the default branch, not listed',
    run: {},
    saveBranches: ['beta'],
    allowed: false
  },
  { name: 'save-branches empty: push to the default branch', run: {}, saveBranches: [], allowed: true },
  {
    name: 'save-branches: a pull request, whatever its branches are named',
    run: pullRequest('beta', 'beta'),
    saveBranches: ['beta', '*'],
    allowed: false
  },
  {
    name: 'save-branches: a tag ref, whatever its name',
    run: { ref: 'refs/tags/beta' },
    saveBranches: ['beta', '*'],
    allowed: false
  }
]

describe('writeDecision', () => {
  it.each(rows)('$name: allowed=$allowed', row => {
    const run = facts(row.run)
    const defaultBranch =
      typeof row.defaultBranch === 'function' ? row.defaultBranch(run) : (row.defaultBranch ?? 'main')
    const decision = writeDecision(runContext(run, defaultBranch, row.saveBranches))
    expect(decision.allowed).toBe(row.allowed)
    if (row.decision) expect(decision).toEqual(row.decision)
    if (row.denial) expect(decision).toMatchObject({ allowed: false, denial: { kind: row.denial } })
  })
})
