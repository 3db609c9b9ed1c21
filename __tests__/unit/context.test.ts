import { describe, expect, it } from '@jest/globals'
import { runContext, writeDecision, type EventFacts } from '../../src/github/context.js'

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

  it('names why not as a typed denial', () => {
    const no = writeDecision(runContext(facts({ ref: 'refs/heads/feature' }), ''))
    expect(no).toEqual({ allowed: false, denial: { kind: 'branch', ref: 'refs/heads/feature', writers: ['main'] } })
    const pr = writeDecision(runContext(facts({ eventName: 'pull_request', ref: 'refs/pull/1/merge', headRef: 'main', baseRef: 'main' }), ''))
    expect(pr).toMatchObject({ allowed: false, denial: { kind: 'pull-request' } })
  })
})

describe('save-branches', () => {
  const decideWith = (ref: string, saveBranches: string[], eventName = 'push'): boolean =>
    writeDecision(runContext(facts({ eventName, ref }), '', saveBranches)).allowed

  it('lets push-like runs on the listed branches write, and only those', () => {
    const branches = ['master', 'beta', 'release/*']
    expect(decideWith('refs/heads/beta', branches)).toBe(true)
    expect(decideWith('refs/heads/release/1.80', branches)).toBe(true)
    expect(decideWith('refs/heads/schedule-me', branches, 'schedule')).toBe(false)
    expect(decideWith('refs/heads/beta', branches, 'workflow_dispatch')).toBe(true)
    expect(decideWith('refs/heads/feature', branches)).toBe(false)
    expect(decideWith('refs/heads/release/1.80/x', branches)).toBe(false)
  })

  it('replaces the default branch as the writer when set', () => {
    expect(decideWith('refs/heads/main', ['beta'])).toBe(false)
    expect(decideWith('refs/heads/main', [])).toBe(true)
  })

  it('never lets a pull request write, whatever its branches are named', () => {
    const pr = facts({ eventName: 'pull_request', ref: 'refs/pull/1/merge', headRef: 'beta', baseRef: 'beta' })
    expect(writeDecision(runContext(pr, '', ['beta', '*'])).allowed).toBe(false)
  })

  it('never matches a tag ref', () => {
    expect(decideWith('refs/tags/beta', ['beta', '*'])).toBe(false)
  })
})
