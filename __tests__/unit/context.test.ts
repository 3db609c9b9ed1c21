import { describe, expect, it } from '@jest/globals'
import { runContext, saveSkipReason, writeDecision, type EventFacts } from '../../src/context.js'

const repo = { repository: { default_branch: 'main' } }
const facts = (over: Partial<EventFacts>): EventFacts => ({ eventName: 'push', ref: 'refs/heads/main', payload: repo, ...over })
const decide = (over: Partial<EventFacts>, defaultBranchInput = ''): boolean =>
  writeDecision(runContext(facts(over), defaultBranchInput)).allowed

describe('runContext', () => {
  it("takes the default branch from the input, else the payload, else master", () => {
    expect(runContext(facts({}), 'trunk').defaultBranch).toBe('trunk')
    expect(runContext(facts({}), '').defaultBranch).toBe('main')
    expect(runContext(facts({ payload: {} }), '').defaultBranch).toBe('master')
  })

  it('reads a pull request as its head branch with its base branch', () => {
    const ctx = runContext(facts({ eventName: 'pull_request', ref: 'refs/pull/3/merge', headRef: 'fix/x', baseRef: 'release' }), '')
    expect(ctx).toMatchObject({ branch: 'fix/x', baseBranch: 'release', defaultBranch: 'main' })
  })

  it('reads a merge queue run as its queue branch with its base branch', () => {
    const payload = { ...repo, merge_group: { base_ref: 'refs/heads/main' } }
    const ctx = runContext(facts({ eventName: 'merge_group', ref: 'refs/heads/gh-readonly-queue/main/pr-1-abc', payload }), '')
    expect(ctx).toMatchObject({ branch: 'gh-readonly-queue/main/pr-1-abc', baseBranch: 'main' })
  })

  it('keeps a tag ref whole so it cannot pass for a branch', () => {
    expect(runContext(facts({ ref: 'refs/tags/main' }), '').branch).toBe('refs/tags/main')
  })
})

describe('writeDecision', () => {
  it.each([
    ['push to the default branch', { eventName: 'push', ref: 'refs/heads/main' }, true],
    ['workflow_dispatch on the default branch', { eventName: 'workflow_dispatch', ref: 'refs/heads/main' }, true],
    ['schedule on the default branch', { eventName: 'schedule', ref: 'refs/heads/main' }, true],
    ['push to another branch', { eventName: 'push', ref: 'refs/heads/feature' }, false],
    ['push of a tag named like the default branch', { eventName: 'push', ref: 'refs/tags/main' }, false],
    ['workflow_dispatch on another branch', { eventName: 'workflow_dispatch', ref: 'refs/heads/feature' }, false],
    ['pull_request', { eventName: 'pull_request', ref: 'refs/pull/1/merge', headRef: 'feature', baseRef: 'main' }, false],
    ['pull_request from a fork whose head is named main', { eventName: 'pull_request', ref: 'refs/pull/2/merge', headRef: 'main', baseRef: 'main' }, false],
    ['pull_request_target (runs on the default branch)', { eventName: 'pull_request_target', ref: 'refs/heads/main', headRef: 'main', baseRef: 'main' }, false],
    ['workflow_run on the default branch', { eventName: 'workflow_run', ref: 'refs/heads/main' }, false],
    ['merge_group', { eventName: 'merge_group', ref: 'refs/heads/gh-readonly-queue/main/pr-1-abc' }, false],
    ['issue_comment on the default branch', { eventName: 'issue_comment', ref: 'refs/heads/main' }, false]
  ] as Array<[string, Partial<EventFacts>, boolean]>)('%s: allowed=%s', (_name, over, allowed) => {
    expect(decide(over)).toBe(allowed)
  })

  it('follows the default-branch input, not the branch name alone', () => {
    expect(decide({ ref: 'refs/heads/main' }, 'trunk')).toBe(false)
    expect(decide({ ref: 'refs/heads/trunk' }, 'trunk')).toBe(true)
  })

  it('says why in one line', () => {
    const no = writeDecision(runContext(facts({ ref: 'refs/heads/feature' }), ''))
    expect(no.reason).toBe('refs/heads/feature is not the default branch (refs/heads/main); only the default branch writes the cache.')
    expect(no.reason).not.toContain('\n')
  })
})

describe('saveSkipReason', () => {
  const allowed = { allowed: true, reason: 'push on refs/heads/main writes the cache.' }

  it('lets a default-branch run with a new key save', () => {
    expect(saveSkipReason(allowed, false, 'k', false)).toBeUndefined()
  })

  it('says why not: the decision first, then an exact hit, then a restore that timed out', () => {
    expect(saveSkipReason({ allowed: false, reason: 'no.' }, true, 'k', true)).toBe('no.')
    expect(saveSkipReason(allowed, true, 'k', false)).toBe('Cache hit occurred on the primary key k, not saving cache.')
    expect(saveSkipReason(allowed, false, 'k', true)).toMatch(/did not answer the restore in time/)
  })
})
